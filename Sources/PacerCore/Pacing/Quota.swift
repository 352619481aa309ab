import Synchronization

/// One API key's rate limits, shared by every batch (and every other caller) that sends on
/// that key: requests and tokens per minute paced as GCRA buckets, the limits learned from
/// the server, the pause a 429 imposes on everyone, the connection circuit breaker and the
/// retry budget.
///
/// Create one per API key and pass it to every ``BatchRunner`` on that key: two batches that
/// each made their own would each pace at the whole limit, together at twice it.
///
/// ```swift
/// let quota = Quota(limits: RateLimits(requestsPerMinute: 500, tokensPerMinute: 200_000))
/// let runner = BatchRunner(configuration: .init(maxConcurrent: 16), quota: quota)
/// ```
///
/// A thin async shell over `QuotaStateMachine` (its pure core) and ``RetryBudget``: it decides under a lock and
/// sleeps outside it, on the injected clock. Requests sent outside a batch may take part:
/// ``acquire(tokens:before:unlessStopped:)`` before sending, ``release(_:outcome:)`` after.
public final class Quota<C: Clock>: Sendable where C.Duration == Duration {
    /// A booking made by ``acquire(tokens:before:unlessStopped:)``, to be released exactly once.
    public typealias Reservation = QuotaReservation

    /// How often waiters with no known wake-up time look again.
    static var pollInterval: Double { 0.05 }

    let clock: C
    private let origin: C.Instant
    private let state: Mutex<QuotaStateMachine>
    private let retries: SharedRetryBudget<C>

    /// Creates a quota.
    ///
    /// - Parameters:
    ///   - limits: The limits and pacing settings (default: learned from the server).
    ///   - retryBudget: The share of requests that may be retries, or `nil` for no cap.
    ///   - breaker: The connection circuit breaker.
    ///   - clock: The clock to pace on.
    public init(
        limits: RateLimits = RateLimits(),
        retryBudget: RetryBudget? = RetryBudget(),
        breaker: CircuitBreaker = CircuitBreaker(),
        clock: C
    ) {
        self.clock = clock
        self.origin = clock.now
        self.state = Mutex(QuotaStateMachine(limits: limits, breaker: breaker))
        self.retries = SharedRetryBudget(retryBudget, clock: clock)
    }

    var now: Double { origin.duration(to: clock.now).pacerSeconds }

    /// The longest server-requested wait sat through; a longer one stops every batch on it.
    public var maxWait: Duration { state.withLock { $0.limits.maxWait } }

    /// Waits until a request using about `tokens` tokens may be sent, and books it.
    ///
    /// - Parameters:
    ///   - tokens: The tokens the request may use at most.
    ///   - deadline: The latest time to send at; the wait ends there with ``DeadlineReached``.
    ///   - control: A batch's control: its stop ends the wait at once (see ``BatchControl``).
    /// - Returns: The booking: release it with ``release(_:outcome:)`` once the request ends,
    ///   or with ``QuotaOutcome/notSent`` if it is not sent after all.
    /// - Throws: ``RateLimitStop`` when the batch must stop; an ``ItemError`` (`rate_limited`,
    ///   not retryable) when the request can never fit; `CancellationError` when cancelled;
    ///   ``StopRequested`` when `control` stops; ``DeadlineReached`` at `deadline`. Nothing is
    ///   booked when it throws.
    public func acquire(
        tokens: Int = 0,
        before deadline: C.Instant? = nil,
        unlessStopped control: BatchControl? = nil
    ) async throws -> Reservation {
        let limit = deadline.map { origin.duration(to: $0).pacerSeconds }
        func sleep(until seconds: Double) async throws {
            if let limit, seconds >= limit {
                try await self.sleep(until: limit, control)
                throw DeadlineReached()
            }
            try await self.sleep(until: seconds, control)
        }
        while true {
            try Task.checkCancellation()
            let now = self.now
            if let limit, now >= limit { throw DeadlineReached() }
            switch state.withLock({ $0.admit(tokens: tokens, now: now) }) {
            case .admit(let at, let probe):
                let reservation = Reservation(tokens: tokens, probe: probe)
                try await waitForSlot(at: at, of: reservation, sleep: sleep)
                return reservation
            case .wait(let until):
                try await sleep(until: until ?? now + Self.pollInterval)
            case .reject(let reason):
                throw ItemError(kind: .rateLimited, message: reason, isRetryable: false)
            case .stop(let until):
                throw RateLimitStop(wait: .pacerSeconds(until - now))
            }
        }
    }

    /// How long from now until a request of `tokens` could start, without booking it: the
    /// ``acquire(tokens:before:unlessStopped:)`` decision taken on a copy of the state.
    /// `nil` when it never could (larger than the limit) or the quota has stopped. A router
    /// compares these to send each request where it can go soonest.
    public func earliestStart(tokens: Int) -> Duration? {
        let now = self.now
        let decision = state.withLock { state -> QuotaStateMachine.Decision in
            var copy = state
            return copy.admit(tokens: tokens, now: now)
        }
        switch decision {
        case .admit(let at, _): return .pacerSeconds(max(0, at - now))
        // A wait of unknown length (a probe out) ranks behind any known one within a second.
        case .wait(let until): return .pacerSeconds(max(0, (until ?? now + 1) - now))
        case .reject, .stop: return nil
        }
    }

    /// Books a request of `tokens` only if the quota admits it now (possibly for a slot a
    /// little ahead, which it then waits for); `nil`, booking nothing, when it would have to
    /// wait for a reason other than its slot (a probe out, an open circuit breaker, a pause).
    /// A router asks each deployment this way, so that a request never sits in the queue of a
    /// deployment that is down while another has room.
    ///
    /// - Throws: What ``acquire(tokens:before:unlessStopped:)`` throws when the request can
    ///   never fit or the quota stopped; `CancellationError`.
    public func acquireIfAdmitted(tokens: Int) async throws -> Reservation? {
        try Task.checkCancellation()
        let now = self.now
        switch state.withLock({ $0.admit(tokens: tokens, now: now) }) {
        case .admit(let at, let probe):
            let reservation = Reservation(tokens: tokens, probe: probe)
            // The batch's stop (``BatchControl/current``) ends the wait for the slot.
            try await waitForSlot(at: at, of: reservation) { try await self.sleep(until: $0, BatchControl.current) }
            return reservation
        case .wait:
            return nil
        case .reject(let reason):
            throw ItemError(kind: .rateLimited, message: reason, isRetryable: false)
        case .stop(let until):
            throw RateLimitStop(wait: .pacerSeconds(until - now))
        }
    }

    /// Waits for a booked slot at `at`, and for any pause that began meanwhile; gives the
    /// booking back when the wait ends in an error.
    private func waitForSlot(
        at: Double,
        of reservation: Reservation,
        sleep: (Double) async throws -> Void
    ) async throws {
        do {
            if at > now { try await sleep(at) }
            // A pause that began while this request waited for its slot holds it too.
            while true {
                let pausedUntil = state.withLock { $0.pausedUntil }
                guard pausedUntil > self.now else { break }
                try await sleep(pausedUntil)
            }
        } catch {
            release(reservation, outcome: .notSent)
            throw error
        }
    }

    /// Sleeps until `seconds` after the origin, and always a little: times are computed in
    /// `Double` seconds and rounded to the nanosecond, so a wait "until just after now" could
    /// round to a deadline already past, return at once, and be asked for again forever.
    private func sleep(until seconds: Double, _ control: BatchControl?) async throws {
        let deadline = max(origin.advanced(by: .pacerSeconds(seconds)), clock.now.advanced(by: .nanoseconds(1)))
        try await clock.sleep(until: deadline, unlessStopped: control)
    }

    /// Ends a booking: settles its tokens with what the server counted, learns from the
    /// answer's headers, feeds the circuit breaker, and gives back the probe.
    public func release(_ reservation: Reservation, outcome: QuotaOutcome) {
        _ = releaseNotingBreaker(reservation, outcome: outcome)
    }

    /// ``release(_:outcome:)``, saying how long the circuit breaker stays open when this
    /// release opened it (`nil` otherwise), so that a shared quota can tell the others.
    package func releaseNotingBreaker(_ reservation: Reservation, outcome: QuotaOutcome) -> Duration? {
        let now = self.now
        return state.withLock { state in
            let before = state.breaker.openUntil
            state.release(tokens: reservation.tokens, probe: reservation.probe, outcome: outcome, now: now)
            guard let until = state.breaker.openUntil, until != before else { return nil }
            return .pacerSeconds(until - now)
        }
    }

    /// Opens the circuit breaker for `duration` from now (see ``CircuitBreaker/trip(until:)``):
    /// another process sharing the quota found the server unreachable.
    package func tripBreaker(for duration: Duration) {
        let now = self.now
        state.withLock { $0.tripBreaker(until: now + duration.pacerSeconds) }
    }

    /// Whether the circuit breaker holds requests back now.
    package var breakerIsOpen: Bool {
        let now = self.now
        return state.withLock { state in state.breaker.openUntil.map { $0 > now } ?? false }
    }

    /// Holds every caller for `duration`.
    ///
    /// - Returns: `false` when the wait is longer than ``maxWait``: the quota has then stopped,
    ///   and every later ``acquire(tokens:before:unlessStopped:)`` throws ``RateLimitStop``.
    @discardableResult
    public func pause(for duration: Duration) -> Bool {
        let now = self.now
        return state.withLock { $0.pause(until: now + duration.pacerSeconds, now: now) }
    }

    /// Records a first attempt (it earns the retry budget a share of a retry).
    public func recordFirstAttempt() { retries.recordFirstAttempt() }

    /// Takes one retry from the budget; `false` when it is exhausted.
    public func tryRetry() -> Bool { retries.tryRetry() }

    /// Seconds spent paused at the server's request so far (by every batch on this quota).
    public var pausedSeconds: Double { state.withLock { $0.pausedSeconds } }

    /// Whether a too-long server wait has stopped the quota.
    public var isStopped: Bool { state.withLock { $0.stoppedUntil != nil } }

    /// When stopped: how long from now until the server expects capacity again.
    public var stoppedFor: Duration? {
        let now = self.now
        return state.withLock { $0.stoppedUntil }.map { .pacerSeconds($0 - now) }
    }
}

extension Quota where C == ContinuousClock {
    /// Creates a quota on the continuous clock.
    ///
    /// - Parameters:
    ///   - limits: The limits and pacing settings (default: learned from the server).
    ///   - retryBudget: The share of requests that may be retries, or `nil` for no cap.
    ///   - breaker: The connection circuit breaker.
    public convenience init(
        limits: RateLimits = RateLimits(),
        retryBudget: RetryBudget? = RetryBudget(),
        breaker: CircuitBreaker = CircuitBreaker()
    ) {
        self.init(limits: limits, retryBudget: retryBudget, breaker: breaker, clock: ContinuousClock())
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

/// A booking made by ``Quota/acquire(tokens:before:unlessStopped:)``, to be released exactly once
/// with ``Quota/release(_:outcome:)``.
public struct QuotaReservation: Sendable, Hashable {
    /// The tokens reserved.
    public let tokens: Int
    /// Whether this request carries the probe (the circuit breaker's half-open probe, or the
    /// first request sent alone while the limits are learned).
    public let probe: Bool

    /// Creates a reservation (as ``Quota`` does when it admits a request).
    public init(tokens: Int, probe: Bool) {
        self.tokens = tokens
        self.probe = probe
    }
}

/// A wait for the quota reached the deadline it was given, before the request could be sent.
public struct DeadlineReached: Error, Hashable {
    /// Creates the error.
    public init() {}
}
