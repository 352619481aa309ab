/// One item's attempts as a state machine: events in, actions out, no I/O.
///
/// The async shell (``BatchRunner``'s `process`) only carries out the actions it is given and
/// reports what happened as the next event. The machine owns what the item holds on the
/// quota: every path out of an admitted state releases its reservation, with the outcome the
/// quota learns from, so no exit can forget a booking, a probe or a breaker slot.
///
/// ```
/// idle ──start──▶ waitingForQuota ──admitted──▶ attempting ──succeeded──▶ finished
///                   ▲   │ refused, stopped,          │ failed (retryable)
///                   │   │ deadline                   ▼
///                   │   └──────────▶ finished    backingOff ──retryRefused, stopped──▶ finished
///                   └──────────backOffEnded──────────┘
/// ```
///
/// Times are durations since an origin the shell chooses (the batch's start).
struct ItemStateMachine: Sendable {
    /// What the machine needs to know of the batch's settings.
    struct Configuration: Sendable, Hashable {
        /// When failed attempts are retried.
        var retry: RetryPolicy
        /// The per-attempt timeout, if any.
        var attemptTimeout: Duration?
        /// The time the item may take from its first attempt, if limited.
        var itemDeadline: Duration?
        /// The longest server-requested pause to sit through (the quota's).
        var maxWait: Duration
        /// The tokens a request for this item may use.
        var tokens: Int
    }

    enum State: Sendable, Hashable {
        case idle
        /// Waiting for the quota to admit attempt `attempt`.
        case waitingForQuota(attempt: Int)
        /// Attempt `attempt` is on the wire, holding `reservation` since `startedAt`.
        case attempting(attempt: Int, reservation: QuotaReservation, startedAt: Duration)
        /// Waiting before attempt `attempt`.
        case backingOff(attempt: Int)
        case finished
    }

    /// A reservation to give back to the quota, and how its request ended.
    struct Release: Sendable, Hashable {
        var reservation: QuotaReservation
        var outcome: QuotaOutcome
    }

    /// How the item ended, for its ``ItemResult``.
    struct Ending: Sendable, Hashable {
        /// `nil` when it succeeded; a `cancelled` error when it was not done (a rerun does it).
        var error: ItemError?
        /// The attempts sent.
        var attempts: Int
        /// Each failed attempt's error, in order.
        var attemptErrors: [ItemError]
        /// From the first admission to the end; zero when never sent.
        var latency: Duration
        /// The time attempts were on the wire.
        var busy: Duration
    }

    /// What the shell does next.
    enum Next: Sendable, Hashable {
        /// Wait for the quota to admit a request of `tokens`, at the latest by `deadline`; a
        /// stop ends the wait. Report ``admitted(_:stopping:now:)`` or ``acquireFailed(_:now:)``.
        case acquire(tokens: Int, deadline: Duration?)
        /// Send attempt `number` (record a first attempt with the retry budget when it is 1),
        /// bounded by `timeout`. Report ``succeeded(usedTokens:rateLimit:now:)`` or
        /// ``failed(_:stopping:unit:now:)``.
        case attempt(number: Int, timeout: Duration?)
        /// Take one retry from the budget (report ``retryRefused(now:)`` if it has none), then
        /// wait `delay`; a stop ends the wait. Report ``backOffEnded(now:)`` or ``stopped(now:)``.
        case backOff(Duration)
        /// The item is over.
        case finish(Ending)
    }

    /// What to do in response to an event: release first, then pause, then `next`.
    struct Action: Sendable, Hashable {
        /// A reservation to release, if the event ended one.
        var release: Release?
        /// Hold every caller of the quota for this long (a 429 or `Retry-After`).
        var pause: Duration?
        /// The next step.
        var next: Next
    }

    let configuration: Configuration
    private(set) var state: State = .idle
    private var errors: [ItemError] = []
    private var sent = 0
    private var busy = Duration.zero
    private var firstAttemptAt: Duration?
    private var deadline: Duration?
    private var previousDelay: Duration?
    /// Retries after attempts that the batch's own concurrency probing displaced: they do not
    /// count against the item's retries (at most as many again as it may make).
    private var displacedRetries = 0

    init(configuration: Configuration) {
        self.configuration = configuration
    }

    // MARK: Events

    /// The item was taken from the input.
    mutating func start(now: Duration) -> Action {
        precondition(state == .idle, "start: \(state)")
        state = .waitingForQuota(attempt: 1)
        return Action(next: .acquire(tokens: configuration.tokens, deadline: nil))
    }

    /// The quota admitted the request; `stopping` when the batch was told to stop meanwhile.
    mutating func admitted(_ reservation: QuotaReservation, stopping: Bool, now: Duration) -> Action {
        guard case .waitingForQuota(let attempt) = state else { preconditionFailure("admitted: \(state)") }
        let notSent = Release(reservation: reservation, outcome: .notSent)
        if stopping { return finish(notDone("not sent: the batch is stopping"), now: now, release: notSent) }
        if attempt == 1 {
            firstAttemptAt = now
            deadline = configuration.itemDeadline.map { now + $0 }
        }
        var timeout = configuration.attemptTimeout
        if let deadline {
            let left = deadline - now
            guard left > .zero else { return finish(deadlineReached(), now: now, release: notSent) }
            timeout = min(timeout ?? left, left)
        }
        sent += 1
        state = .attempting(attempt: attempt, reservation: reservation, startedAt: now)
        return Action(next: .attempt(number: attempt, timeout: timeout))
    }

    /// The wait for the quota ended without an admission.
    mutating func acquireFailed(_ error: any Error, now: Duration) -> Action {
        guard case .waitingForQuota = state else { preconditionFailure("acquireFailed: \(state)") }
        switch error {
        case let stop as RateLimitStop:
            return finish(notDone("not sent: \(stop)"), now: now)
        case is StopRequested:
            return finish(notDone("not sent: the batch is stopping"), now: now)
        case is DeadlineReached:
            return finish(deadlineReached(), now: now)
        case let refused as ItemError where refused.kind != .cancelled:
            errors.append(refused)
            return finish(refused, now: now)
        default:
            return finish(notDone("cancelled before it was sent"), now: now)
        }
    }

    /// The attempt succeeded; the server counted `usedTokens` and said `rateLimit`.
    mutating func succeeded(usedTokens: Int?, rateLimit: RateLimitSnapshot?, now: Duration) -> Action {
        guard case .attempting(_, let reservation, let startedAt) = state else {
            preconditionFailure("succeeded: \(state)")
        }
        busy += now - startedAt
        let release = Release(
            reservation: reservation,
            outcome: .answered(usedTokens: usedTokens ?? 0, rateLimit: rateLimit)
        )
        return finish(nil, now: now, release: release)
    }

    /// The attempt failed with `error`; `stopping` when the batch was told to stop meanwhile;
    /// `unit` is a uniform random value in `0..<1` for jitter. `displaced` when the failure is
    /// the batch's own doing (`--concurrency auto` probing past what the server serves: a
    /// stream cut short by another request): its retry is not counted against the item's,
    /// up to as many again as ``RetryPolicy/maxRetries``.
    mutating func failed(
        _ error: ItemError,
        stopping: Bool,
        displaced: Bool = false,
        unit: Double,
        now: Duration
    ) -> Action {
        guard case .attempting(let attempt, let reservation, let startedAt) = state else {
            preconditionFailure("failed: \(state)")
        }
        let free = displaced && error.isRetryable && displacedRetries < configuration.retry.maxRetries
        // An attempt that ended before its request went out is not a request, and kept no one busy.
        if !error.wasSent { sent -= 1 } else { busy += now - startedAt }
        let release = Release(
            reservation: reservation,
            outcome: error.wasSent ? QuotaOutcome(failure: error) : .notSent
        )
        var failure = error
        errors.append(failure)
        if failure.kind == .cancelled { return finish(failure, now: now, release: release) }

        // Retries counted so far; a free one is allowed even when they are all spent.
        let counted = attempt - 1 - displacedRetries
        var decision = configuration.retry.decide(
            after: failure,
            retriesSoFar: free ? min(counted, configuration.retry.maxRetries - 1) : counted,
            previousDelay: previousDelay,
            unit: unit
        )
        if let deadline, now >= deadline, failure.kind == .timeout {
            // The attempt was cut at the item's deadline.
            failure = deadlineReached()
            decision = .giveUp
        } else if case .retry(let delay) = decision, let deadline, now + delay >= deadline {
            // The retry could not start before the item's deadline.
            failure = deadlineReached()
            decision = .giveUp
        }
        guard case .retry(let delay) = decision else { return finish(failure, now: now, release: release) }
        if stopping {
            return finish(notDone("not sent again: the batch is stopping"), now: now, release: release)
        }
        var pause: Duration?
        if failure.status == 429 || failure.retryAfter != nil {
            // The server is saturated: hold every worker, not just this one.
            pause = delay
            if delay > configuration.maxWait {
                var action = finish(
                    notDone("not sent again: \(RateLimitStop(wait: delay))"),
                    now: now,
                    release: release
                )
                action.pause = delay
                return action
            }
        }
        previousDelay = delay
        if free { displacedRetries += 1 }
        state = .backingOff(attempt: attempt + 1)
        return Action(release: release, pause: pause, next: .backOff(delay))
    }

    /// The retry budget had no retry for this item.
    mutating func retryRefused(now: Duration) -> Action {
        guard case .backingOff = state, var last = errors.last else { preconditionFailure("retryRefused: \(state)") }
        last.message += " (retry budget exhausted)"
        last.isRetryable = false
        errors[errors.count - 1] = last
        return finish(last, now: now)
    }

    /// The wait before the next attempt is over.
    mutating func backOffEnded(now: Duration) -> Action {
        guard case .backingOff(let attempt) = state else { preconditionFailure("backOffEnded: \(state)") }
        state = .waitingForQuota(attempt: attempt)
        return Action(next: .acquire(tokens: configuration.tokens, deadline: deadline))
    }

    /// The time left before the item's deadline, if it has one and has started.
    func timeLeft(now: Duration) -> Duration? {
        deadline.map { max(.zero, $0 - now) }
    }

    /// The batch was told to stop (or was cancelled) during a wait before a send.
    mutating func stopped(cancelled: Bool = false, now: Duration) -> Action {
        switch state {
        case .waitingForQuota, .backingOff:
            return finish(cancelled ? .cancelled : notDone("not sent again: the batch is stopping"), now: now)
        default:
            preconditionFailure("stopped: \(state)")
        }
    }

    // MARK: Helpers

    private mutating func finish(_ error: ItemError?, now: Duration, release: Release? = nil) -> Action {
        state = .finished
        let ending = Ending(
            error: error,
            attempts: sent,
            attemptErrors: errors,
            latency: firstAttemptAt.map { now - $0 } ?? .zero,
            busy: busy
        )
        return Action(release: release, next: .finish(ending))
    }

    /// An ending for an item that is not done: not written, and a rerun does it.
    private func notDone(_ reason: String) -> ItemError {
        ItemError(kind: .cancelled, message: reason, isRetryable: false)
    }

    /// The item's last attempt error, marked as the one that met the item's deadline.
    private mutating func deadlineReached() -> ItemError {
        var last = errors.last ?? ItemError(kind: .timeout, message: "no attempt", isRetryable: false)
        last.message += " (item deadline of \((configuration.itemDeadline ?? .zero).pacerSeconds)s reached)"
        last.isRetryable = false
        if !errors.isEmpty { errors[errors.count - 1] = last }
        return last
    }
}
