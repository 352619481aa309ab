/// The engine's quota for a routed run: admits at once and holds no one, since each
/// deployment paces in its own quota inside the ``DeploymentRouter``; it keeps only the retry budget.
public final class UnpacedQuota<C: Clock>: QuotaProtocol, Sendable where C.Duration == Duration {
    /// The quota's clock.
    public typealias QuotaClock = C

    private let retries: SharedRetryBudget<C>

    /// The longest wait sat through: no wait is imposed here.
    public let maxWait: Duration

    /// An unpaced quota with `retryBudget`, on `clock`.
    public init(retryBudget: RetryBudget? = RetryBudget(), maxWait: Duration = .seconds(120), clock: C) {
        self.retries = SharedRetryBudget(retryBudget, clock: clock)
        self.maxWait = maxWait
    }

    /// Books at once.
    public func acquire(
        tokens: Int,
        before deadline: C.Instant?,
        unlessStopped control: BatchControl?
    ) async throws -> QuotaReservation {
        try Task.checkCancellation()
        return QuotaReservation(tokens: tokens, probe: false)
    }

    /// Nothing to settle.
    public func release(_ reservation: QuotaReservation, outcome: QuotaOutcome) {}

    /// Holds no one: a deployment's wait is its own quota's.
    @discardableResult
    public func pause(for duration: Duration) -> Bool { true }

    /// Records a first attempt for the retry budget.
    public func recordFirstAttempt() { retries.recordFirstAttempt() }

    /// Takes one retry from the budget.
    public func tryRetry() -> Bool { retries.tryRetry() }

    /// Never paused.
    public var pausedSeconds: Double { 0 }

    /// Never stopped.
    public var isStopped: Bool { false }

    /// Never stopped.
    public var stoppedFor: Duration? { nil }
}
