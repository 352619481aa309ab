import Synchronization

/// Caps retries at a share of requests, so a failing server does not get a retry storm.
///
/// A pure token bucket: every first attempt deposits `ratio` (default 0.2), every retry
/// withdraws 1, and a floor of `minimumPerSecond` accrues with time so that a slow batch can
/// always retry a little (the shape of Finagle's retry budget). Times are in seconds.
public struct RetryBudget: Sendable, Hashable {
    /// Retries allowed per first attempt. Default 0.2 (20%).
    public var ratio: Double
    /// Retries that accrue per second regardless of traffic. Default 10.
    public var minimumPerSecond: Double
    /// The most retries that can be saved up. Default 100.
    public var maxBalance: Double
    private var balance: Double
    private var updatedAt: Double

    /// Creates a budget that starts with `initial` retries available (default 10).
    public init(
        ratio: Double = 0.2,
        minimumPerSecond: Double = 10,
        maxBalance: Double = 100,
        initial: Double = 10,
        now: Double = 0
    ) {
        precondition(ratio >= 0 && minimumPerSecond >= 0 && maxBalance >= 1, "invalid retry budget")
        self.ratio = ratio
        self.minimumPerSecond = minimumPerSecond
        self.maxBalance = maxBalance
        self.balance = min(initial, maxBalance)
        self.updatedAt = now
    }

    /// Retries available now.
    public mutating func available(now: Double) -> Double {
        accrue(now)
        return balance
    }

    /// Records a first attempt.
    public mutating func recordRequest(now: Double) {
        accrue(now)
        balance = min(maxBalance, balance + ratio)
    }

    /// Takes one retry from the budget; `false` when it is exhausted.
    public mutating func tryRetry(now: Double) -> Bool {
        accrue(now)
        // Tolerate the rounding of many fractional deposits (100 × 0.2 is 19.999…).
        guard balance >= 1 - 1e-9 else { return false }
        balance -= 1
        return true
    }

    private mutating func accrue(_ now: Double) {
        if now > updatedAt {
            balance = min(maxBalance, balance + (now - updatedAt) * minimumPerSecond)
            updatedAt = now
        }
    }
}

/// A ``RetryBudget`` that every caller of one quota draws on, timed on the quota's clock:
/// what ``Quota`` and ``UnpacedQuota`` hold. A `nil` budget caps nothing.
final class SharedRetryBudget<C: Clock>: Sendable where C.Duration == Duration {
    private let clock: C
    private let origin: C.Instant
    private let budget: Mutex<RetryBudget?>

    /// `budget` (or no cap), timed from now on `clock`.
    init(_ budget: RetryBudget?, clock: C) {
        self.clock = clock
        self.origin = clock.now
        self.budget = Mutex(budget)
    }

    private var now: Double { origin.duration(to: clock.now).pacerSeconds }

    /// Records a first attempt (it earns a share of a retry).
    func recordFirstAttempt() {
        let now = self.now
        budget.withLock { $0?.recordRequest(now: now) }
    }

    /// Takes one retry; `false` when the budget is exhausted.
    func tryRetry() -> Bool {
        let now = self.now
        return budget.withLock { $0?.tryRetry(now: now) ?? true }
    }
}
