/// What a batch paces against: a ``Quota`` in this process, or a quota that many processes
/// share (PacerPostgres' `PostgresQuota`, kept in PostgreSQL). ``BatchRunner`` knows nothing
/// else about either.
///
/// The contract is ``Quota``'s: ``acquire(tokens:before:unlessStopped:)`` books a request
/// (and waits until it may go); every booking ends with exactly one
/// ``release(_:outcome:)``, sent or not; ``pause(for:)`` holds every caller.
public protocol QuotaProtocol<QuotaClock>: Sendable {
    /// The clock deadlines are given on.
    associatedtype QuotaClock: Clock where QuotaClock.Duration == Duration

    /// The longest server-requested wait sat through; a longer one stops every batch on it.
    var maxWait: Duration { get }

    /// Waits until a request using about `tokens` tokens may be sent, and books it (see
    /// ``Quota/acquire(tokens:before:unlessStopped:)`` for what it throws).
    func acquire(
        tokens: Int,
        before deadline: QuotaClock.Instant?,
        unlessStopped control: BatchControl?
    ) async throws -> QuotaReservation

    /// Ends a booking with what became of its request.
    func release(_ reservation: QuotaReservation, outcome: QuotaOutcome)

    /// Holds every caller for `duration`; `false` when that is longer than ``maxWait`` (the
    /// quota has then stopped).
    @discardableResult
    func pause(for duration: Duration) -> Bool

    /// Records a first attempt (it earns the retry budget a share of a retry).
    func recordFirstAttempt()

    /// Takes one retry from the budget; `false` when it is exhausted.
    func tryRetry() -> Bool

    /// Seconds spent paused at the server's request so far.
    var pausedSeconds: Double { get }

    /// Whether a too-long server wait has stopped the quota.
    var isStopped: Bool { get }

    /// When stopped: how long from now until the server expects capacity again.
    var stoppedFor: Duration? { get }
}

extension Quota: QuotaProtocol {
    /// The quota's clock.
    public typealias QuotaClock = C
}

/// A quota a ``DeploymentRouter`` can spread requests over: besides booking and waiting, it
/// says how soon it could start a request without booking it, and books one only when it
/// admits it now. A ``Quota`` in this process, or one shared by many (PacerPostgres'
/// `PostgresQuota`, one row per deployment).
public protocol RoutableQuota<QuotaClock>: QuotaProtocol {
    /// How long from now until a request of `tokens` could start, without booking it; `nil`
    /// when it never could (larger than the limit) or the quota has stopped.
    func earliestStart(tokens: Int) -> Duration?

    /// Books a request of `tokens` only if the quota admits it now (possibly for a slot a
    /// little ahead, which it then waits for; the batch's stop, ``BatchControl/current``,
    /// ends that wait); `nil`, booking nothing, when it would have to wait for another reason
    /// (a probe out, an open circuit breaker, a pause, no lease to be had now).
    ///
    /// - Throws: An ``ItemError`` when the request can never fit; ``RateLimitStop`` when the
    ///   quota stopped; ``StopRequested`` or `CancellationError`. Nothing is booked then.
    func acquireIfAdmitted(tokens: Int) async throws -> QuotaReservation?
}

extension Quota: RoutableQuota {}
