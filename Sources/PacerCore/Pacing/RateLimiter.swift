import Synchronization

/// Paces a batch's requests at its requests-per-minute and tokens-per-minute limits, shared
/// by every worker, and holds them all when the server asks for a pause.
///
/// A thin async shell over ``AdmissionState`` and ``RetryBudget``: it decides under a lock and
/// sleeps outside it, on the injected clock.
public final class RateLimiter<C: Clock>: Sendable where C.Duration == Duration {
    /// A booking made by ``acquire(tokens:)``, to be settled when the response is in.
    public struct Reservation: Sendable, Hashable {
        /// The tokens reserved.
        public let tokens: Int
    }

    /// How often waiters with no known wake-up time look again.
    static var pollInterval: Double { 0.05 }

    let clock: C
    private let origin: C.Instant
    private let state: Mutex<AdmissionState>
    private let budget: Mutex<RetryBudget?>

    /// Creates a limiter.
    ///
    /// - Parameters:
    ///   - limits: The limits and pacing settings.
    ///   - retryBudget: The share of requests that may be retries, or `nil` for no cap.
    ///   - breaker: The connection circuit breaker.
    ///   - clock: The clock to pace on.
    public init(limits: RateLimits, retryBudget: RetryBudget? = RetryBudget(), breaker: CircuitBreaker = CircuitBreaker(), clock: C) {
        self.clock = clock
        self.origin = clock.now
        self.state = Mutex(AdmissionState(limits: limits, breaker: breaker))
        self.budget = Mutex(retryBudget)
    }

    private var now: Double { origin.duration(to: clock.now).pacerSeconds }

    private func sleep(until seconds: Double) async throws {
        try await clock.sleep(until: origin.advanced(by: .pacerSeconds(seconds)), tolerance: nil)
    }

    /// Waits until a request using about `tokens` tokens may be sent, and books it.
    ///
    /// - Throws: ``RateLimitStop`` when the batch must stop; an ``ItemError`` (`rate_limited`,
    ///   not retryable) when the request can never fit; `CancellationError` when cancelled.
    public func acquire(tokens: Int = 0) async throws -> Reservation {
        while true {
            try Task.checkCancellation()
            let now = self.now
            switch state.withLock({ $0.admit(tokens: tokens, now: now) }) {
            case .admit(let at):
                do {
                    if at > now { try await sleep(until: at) }
                    // A pause that began while this request waited for its slot holds it too.
                    while true {
                        let pausedUntil = state.withLock { $0.pausedUntil }
                        guard pausedUntil > self.now else { break }
                        try await sleep(until: pausedUntil)
                    }
                } catch {
                    let now = self.now
                    state.withLock { $0.abandon(tokens: tokens, now: now) }
                    throw error
                }
                return Reservation(tokens: tokens)
            case .wait(let until):
                try await sleep(until: until ?? now + Self.pollInterval)
            case .reject(let reason):
                throw ItemError(kind: .rateLimited, message: reason, isRetryable: false)
            case .stop(let until):
                throw RateLimitStop(wait: .pacerSeconds(until - now))
            }
        }
    }

    /// Settles a reservation with the tokens the server counted (`nil` if it counted none).
    public func settle(_ reservation: Reservation, usedTokens: Int?) {
        state.withLock { $0.settle(reserved: reservation.tokens, used: usedTokens) }
    }

    /// Takes in what a response said about the server's limits.
    public func observe(_ snapshot: RateLimitSnapshot?, connectionFailed: Bool = false) {
        let now = self.now
        state.withLock { $0.observe(snapshot ?? RateLimitSnapshot(), connectionFailed: connectionFailed, now: now) }
    }

    /// Holds every worker for `duration`.
    ///
    /// - Returns: `false` when the wait is longer than the maximum: the limiter has stopped.
    @discardableResult
    public func pause(for duration: Duration) -> Bool {
        let now = self.now
        return state.withLock { $0.pause(until: now + duration.pacerSeconds, now: now) }
    }

    /// Records a first attempt (it earns the retry budget a share of a retry).
    public func recordFirstAttempt() {
        let now = self.now
        budget.withLock { $0?.recordRequest(now: now) }
    }

    /// Takes one retry from the budget; `false` when it is exhausted.
    public func tryRetry() -> Bool {
        let now = self.now
        return budget.withLock { $0?.tryRetry(now: now) ?? true }
    }

    /// Seconds spent paused at the server's request so far.
    public var pausedSeconds: Double { state.withLock { $0.pausedSeconds } }

    /// Whether a too-long server wait has stopped the batch.
    public var isStopped: Bool { state.withLock { $0.stoppedUntil != nil } }

    /// When stopped: how long from now until the server expects capacity again.
    public var stoppedFor: Duration? {
        let now = self.now
        return state.withLock { $0.stoppedUntil }.map { .pacerSeconds($0 - now) }
    }
}

/// The server asked for a wait longer than the batch's maximum: stop, and rerun later.
public struct RateLimitStop: Error, Hashable, CustomStringConvertible {
    /// How long the server asked to wait (from when this was thrown).
    public var wait: Duration

    /// Creates the error.
    public init(wait: Duration) { self.wait = wait }

    /// A one-line description for people.
    public var description: String {
        "the server asked to wait \(Int(wait.pacerSeconds.rounded(.up))) s, longer than the maximum wait"
    }
}
