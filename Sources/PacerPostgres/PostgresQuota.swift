import Foundation
import Logging
import PacerCore
import PostgresNIO
import Synchronization

/// A quota shared by every process that paces against the same name in one PostgreSQL
/// database: several `pacer` runs, the workers of a distributed batch, a Swift service on the
/// same API key. Together they stay under one limit.
///
/// - **Pacing** is a GCRA for requests and a token bucket for tokens, kept in one row and
///   computed on the database's clock, so machine clocks may disagree. A process leases about
///   a second of its own demand at a time (`PostgresQuotaStateMachine`), one round trip per lease, and sends
///   each request at its slot; slots it leaves unused are dropped, never sent late.
/// - **Tokens settle as in one process**: a request is booked for its estimate (prompt and
///   `max_tokens`), a booking goes only while the bucket has room for it, and what the request
///   did not use goes back to the row as soon as its answer is back, with a `NOTIFY` that
///   lets a process waiting for room ask again at once. A request larger than the whole
///   limit is refused before it books.
/// - **Limits** are the ones given, else learned from the server's `x-ratelimit-limit-*`
///   headers by any process and kept in the row; until they are known, one request at a time
///   is sent across all processes (the probe). A process whose server answers a counted
///   request without any limit header has the row drop the limits it learned (from another
///   server, in an earlier run).
/// - **A 429 anywhere pauses everyone**: the pause is kept in the row and announced with
///   `NOTIFY`, so the others hold at once.
/// - **The circuit breaker** is each process's own (a `Quota` without rate limits inside),
///   and when it opens the others hear of it by `NOTIFY` and hold for the same cooldown, then
///   each sends its own probe: a server that is down is found once, not once per process,
///   while a machine whose own network broke costs the others a cooldown at most. The
///   cooldown's end is kept in the row too, so a process that starts meanwhile holds from its
///   first lease.
/// - **The retry budget** stays each process's own.
///
/// Run ``run()`` (it listens for pauses and sends this process's) for as long as batches use
/// it; `BatchRunner` takes it as its `quota`.
///
/// ```swift
/// try await QueueDatabase.withDatabase(url) { database in
///     let quota = PostgresQuota(database: database, configuration: .init(name: "openai-org"))
///     try await withThrowingTaskGroup(of: Void.self) { group in
///         group.addTask { try await quota.run() }
///         let runner = BatchRunner(configuration: .init(maxConcurrent: 16), quota: quota)
///         // runner.run(…)
///         group.cancelAll()
///     }
/// }
/// ```
public final class PostgresQuota: QuotaProtocol {
    /// The continuous clock.
    public typealias QuotaClock = ContinuousClock

    /// The quota's name and settings.
    public struct Configuration: Sendable {
        /// The quota's name: processes with the same name share it.
        public var name: String
        /// Limits given (`requestsPerMinute`, `tokensPerMinute`), the headroom, whether to
        /// learn from the server, and the longest wait sat through.
        public var limits: RateLimits
        /// How far ahead a process books, in seconds of its own demand. Default 1 s.
        public var leaseSeconds: Double
        /// How long the probe of a quota with unknown limits holds before another process
        /// may send one. Default 30 s.
        public var probeSeconds: Double

        /// Creates a configuration.
        public init(
            name: String,
            limits: RateLimits = RateLimits(),
            leaseSeconds: Double = 1,
            probeSeconds: Double = 30
        ) {
            self.name = name
            self.limits = limits
            self.leaseSeconds = leaseSeconds
            self.probeSeconds = probeSeconds
        }
    }

    /// What the process knows besides its lease.
    private struct Shared: Sendable {
        var lease: PostgresQuotaStateMachine
        var learnedRPM: Double?
        var learnedTPM: Double?
        /// Learned limits not yet written to the row.
        var unsentRPM: Double?
        var unsentTPM: Double?
        var unlimitedSeen = false
        /// Whether this process's own answers carried rate-limit headers.
        var heardLimits = false
        /// Whether to tell the row to drop the limits it learned, and whether that was told.
        var forgetLearned = false
        var forgotLearned = false
        var knowsLimits: Bool
        /// The database's clock minus this process's, from the last round trip.
        var clockOffset = 0.0
        var leases = 0
        var outage = false
        /// Leases that failed in a row (the back-off before the next).
        var fetchFailures = 0
        /// The latest end of a breaker's cooldown a lease brought (database clock).
        var breakerUntilSeen = 0.0
        /// The token limit, given or as the last lease told it.
        var tokenLimit: Double?

        /// Records whether leases fail; `true` when that changed.
        mutating func setOutage(_ failing: Bool) -> Bool {
            defer { outage = failing }
            return outage != failing
        }
    }

    /// The settings.
    public let configuration: Configuration
    private let database: QueueDatabase
    /// This process's own quota: the server's remaining tokens and requests, pauses, the breaker.
    let local: Quota<ContinuousClock>
    private let state: Mutex<Shared>
    private let origin = ContinuousClock.now
    private let announcements: AsyncStream<Announcement>
    private let announcementsContinuation: AsyncStream<Announcement>.Continuation
    /// Rung when a request gave tokens back: the settler sends all there are.
    private let settlements: AsyncStream<Void>
    private let settlementsContinuation: AsyncStream<Void>.Continuation
    private let logger: Logger
    private let onOutage: @Sendable (String) -> Void

    /// Creates a quota on `database` (which must stay open while it is used).
    ///
    /// - Parameters:
    ///   - database: The database that holds the quota.
    ///   - configuration: Its name and settings.
    ///   - retryBudget: This process's share of retries, or `nil` for no cap.
    ///   - breaker: This process's connection circuit breaker.
    ///   - logger: Where the listener's reconnections are logged.
    ///   - onOutage: Told, for a person, when leases start failing (the database is down:
    ///     requests wait, with back-off, since none may go without a lease) and when they
    ///     work again.
    public init(
        database: QueueDatabase,
        configuration: Configuration,
        retryBudget: RetryBudget? = RetryBudget(),
        breaker: CircuitBreaker = CircuitBreaker(),
        logger: Logger = Logger(label: "pacer.quota", factory: { _ in SwiftLogNoOpLogHandler() }),
        onOutage: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.onOutage = onOutage
        self.database = database
        self.configuration = configuration
        // The shared row paces every process; this process's own quota adds what its answers
        // say: the server's remaining tokens and requests (the org's, seen by every process),
        // so that a request waits while the server's bucket is lower than it needs, as one
        // process alone does. Its own limits are learned, never given (one process's share of
        // the limit is the row's to say), and the probe is the row's.
        var localLimits = configuration.limits
        localLimits.requestsPerMinute = nil
        localLimits.tokensPerMinute = nil
        localLimits.probeFirst = false
        self.local = Quota(limits: localLimits, retryBudget: retryBudget, breaker: breaker)
        let given = configuration.limits
        var lease = PostgresQuotaStateMachine(leaseSeconds: configuration.leaseSeconds)
        if let perMinute = given.requestsPerMinute {
            lease.maxRequests = Self.maxLease(perMinute: perMinute, leaseSeconds: configuration.leaseSeconds)
        }
        self.state = Mutex(
            Shared(
                lease: lease,
                knowsLimits: given.requestsPerMinute != nil || given.tokensPerMinute != nil,
                tokenLimit: given.tokensPerMinute
            )
        )
        (announcements, announcementsContinuation) = AsyncStream.makeStream(
            of: Announcement.self,
            bufferingPolicy: .bufferingNewest(16)
        )
        (settlements, settlementsContinuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
        self.logger = logger
    }

    /// Seconds since this quota was made, on this process's clock.
    var now: Double { origin.duration(to: .now).pacerSeconds }

    /// The most slots one lease holds: two lease periods at the whole limit. One period
    /// (10 slots at 600 RPM) took 0.11 round trips per request for four processes sharing
    /// 600 RPM, as leases ramp up (1, 2, 4, 8) and end partly used; two keep it under 0.1.
    static func maxLease(perMinute: Double, leaseSeconds: Double) -> Int {
        max(1, Int((perMinute / 60 * leaseSeconds * 2).rounded(.up)))
    }

    /// Whether this process's circuit breaker holds requests back now (opened here, or by
    /// another process's announcement).
    public var breakerIsOpen: Bool { local.breakerIsOpen }

    /// The most slots one lease holds against a server without limits: 1,000 (a worker at
    /// 5,000 requests a second leases five times a second).
    static let unlimitedLease = 1000

    /// The least time between two settlements of one process.
    static let settlementInterval: Duration = .milliseconds(50)

    /// How long a lease may go unanswered, while the database answers a new connection,
    /// before it is abandoned and asked again.
    static let abandonUnanswered: Duration = .seconds(15)

    /// Leases made so far: this process's database round trips for pacing.
    public var leases: Int { state.withLock { $0.leases } }

    /// The longest server-requested wait sat through.
    public var maxWait: Duration { local.maxWait }

    /// Seconds this process was held by pauses.
    public var pausedSeconds: Double { local.pausedSeconds }

    /// Whether a too-long server wait has stopped the quota.
    public var isStopped: Bool { local.isStopped }

    /// When stopped: how long until the server expects capacity again.
    public var stoppedFor: Duration? { local.stoppedFor }

    /// Creates the quota's table and functions if needed (one round trip when they are there).
    public func prepare() async throws {
        try await QuotaSchema.migration.prepare(database)
    }

    /// What this process tells the others: a pause a 429 asked for, or its breaker opening,
    /// each for `seconds` from now.
    private enum Announcement: Sendable {
        case pause(seconds: Double)
        case breaker(seconds: Double)

        var seconds: Double {
            switch self {
            case .pause(let seconds), .breaker(let seconds): seconds
            }
        }
    }

    /// Listens for pauses, breaker openings and settlements other processes announce,
    /// announces this process's and gives back the tokens its requests did not use, until
    /// cancelled. Reconnects after an outage.
    public func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.listen() }
            group.addTask {
                for await announcement in self.announcements { try await self.announce(announcement) }
            }
            group.addTask {
                // At most one settlement every 50 ms: refunds that arrive meanwhile go
                // together, so a busy process costs the database (and each listener's
                // `NOTIFY`) at most 20 a second.
                for await _ in self.settlements {
                    try await self.settle()
                    try await Task.sleep(for: Self.settlementInterval)
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    /// Tells every listener (and, for a pause, the row) about a pause or a breaker opening;
    /// while the database is down, tries again (this process holds meanwhile) until it is over.
    private func announce(_ announcement: Announcement) async throws {
        let until = now + announcement.seconds
        while true {
            do {
                let (left, name, database) = (max(0, until - now), configuration.name, database)
                // Bounded as a lease is: a hung announcement would hold back the ones after it.
                try await database.abandoning(after: Self.abandonUnanswered, "announce a pause or an open breaker") {
                    let breaker = if case .breaker = announcement { true } else { false }
                    let rows = try await database.query("SELECT pacer_quota_hold(\(name), \(breaker), \(left))")
                    // Read to the end: a row stream left unread holds its connection.
                    for try await _ in rows {}
                }
                return
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                guard now + 0.5 < until else { return }
                try await Task.sleep(for: .milliseconds(500))
            }
        }
    }

    private func listen() async throws {
        struct Heard: Decodable {
            var quota: String
            var paused_until: Double?
            var db_now: Double?
            var breaker_seconds: Double?
            var settled: Bool?
        }
        let (name, local) = (configuration.name, local)
        try await database.listen(on: "pacer_quota", logger: logger) { [self] payload in
            guard
                let payload,
                let heard = try? JSONDecoder().decode(Heard.self, from: Data(payload.utf8)),
                heard.quota == name
            else { return }
            if let until = heard.paused_until, let databaseNow = heard.db_now, until > databaseNow {
                _ = local.pause(for: .pacerSeconds(until - databaseNow))
            }
            if let cooldown = heard.breaker_seconds, cooldown > 0 {
                local.tripBreaker(for: .pacerSeconds(cooldown))
            }
            // Tokens went back to the row: a process waiting for room asks again.
            if heard.settled == true { self.state.withLock { $0.lease.askSoon() } }
        }
    }

    /// Gives back to the row the tokens this process's requests booked and did not use, and
    /// tells every listener. When the database cannot be reached they wait for the next
    /// settlement or lease.
    private func settle() async throws {
        let tokens = state.withLock { $0.lease.settlement() }
        guard tokens > 0 else { return }
        let (name, limits, database) = (configuration.name, configuration.limits, database)
        do {
            try await database.abandoning(after: Self.abandonUnanswered, "settle the shared quota") {
                let rows = try await database.query(
                    """
                    SELECT pacer_quota_settle(\(name), \(Int64(tokens)), \(limits.tokensPerMinute), \(limits.headroom))
                    """
                )
                for try await _ in rows {}
            }
        } catch {
            state.withLock { $0.lease.unsettle(tokens) }
            if error is CancellationError { throw error }
        }
    }

    /// Waits for this process's next slot of the shared limit, then for its own breaker and
    /// pauses; books the request.
    public func acquire(
        tokens: Int,
        before deadline: ContinuousClock.Instant?,
        unlessStopped control: BatchControl?
    ) async throws -> QuotaReservation {
        let limit = deadline.map { origin.duration(to: $0).pacerSeconds }
        while true {
            try Task.checkCancellation()
            if control?.isStopping == true { throw StopRequested() }
            if local.isStopped { break }
            let now = self.now
            if let limit, now >= limit { throw DeadlineReached() }
            try refuseLargerThanLimit(tokens)
            switch take(tokens: tokens, now: now) {
            case .send(let at):
                if at > now { try await sleep(until: at, limit: limit, control) }
                return try await local.acquire(tokens: tokens, before: deadline, unlessStopped: control)
            case .wait(let until):
                // Against a token limit, another process's settlement may let this one go
                // sooner than the row said: it is heard (`askSoon`) and looked at within 25 ms.
                let tokensLimited = state.withLock { $0.tokenLimit != nil }
                let wake = until.map { tokensLimited ? min($0, now + 0.025) : $0 } ?? now + 0.005
                try await sleep(until: wake, limit: limit, control)
            case .fetch(let requests, let wanted):
                try await lease(requests: requests, tokens: wanted)
            }
        }
        // Stopped by a too-long wait: the local quota says so.
        return try await local.acquire(tokens: tokens, before: deadline, unlessStopped: control)
    }

    /// Takes a slot of the lease for a request of `tokens`, or says how to get one; with
    /// `peek`, decides on a copy and takes nothing.
    func take(tokens: Int, now: Double, peek: Bool = false) -> PostgresQuotaStateMachine.Decision {
        state.withLock { state in
            guard peek else { return state.lease.take(tokens: tokens, now: now) }
            var copy = state.lease
            return copy.take(tokens: tokens, now: now)
        }
    }

    /// Refuses a request larger than the whole token limit before it leases, as the local
    /// quota does: leased, it would hold the shared row for minutes.
    func refuseLargerThanLimit(_ tokens: Int) throws {
        guard let tokenLimit = state.withLock({ $0.tokenLimit }), Double(tokens) > tokenLimit else { return }
        throw ItemError(
            kind: .rateLimited,
            message: "the request needs about \(tokens) tokens, more than the whole limit of "
                + "\(Int(tokenLimit)) tokens per minute",
            isRetryable: false
        )
    }

    /// Asks the row for a lease of `requests` slots and `tokens` tokens. When the database
    /// cannot be reached the next ask waits, backing off up to 5 s, and the first failure and
    /// the recovery are told; only cancellation is thrown.
    ///
    /// - Returns: Whether a lease came back.
    @discardableResult
    func lease(requests: Int, tokens: Int) async throws -> Bool {
        do {
            try await fetch(requests: requests, tokens: tokens)
            let recovered = state.withLock { state in
                state.fetchFailures = 0
                return state.setOutage(false)
            }
            if recovered { onOutage("the shared quota '\(configuration.name)' answers again; carrying on") }
            return true
        } catch {
            let started = state.withLock { state in
                state.fetchFailures += 1
                let wait = min(0.25 * pow(2, Double(state.fetchFailures - 1)), 5)
                state.lease.fetchFailed(retryAt: self.now + wait)
                return state.setOutage(true)
            }
            if error is CancellationError { throw error }
            if started {
                onOutage(
                    "cannot lease from the shared quota '\(configuration.name)' at \(database.url): "
                        + "\(DatabaseFailure.describe(error)); requests wait, retrying with back-off"
                )
            }
            return false
        }
    }

    /// Sleeps until `seconds` (and no later than `limit`), or until `control` stops.
    func sleep(until seconds: Double, limit: Double?, _ control: BatchControl?) async throws {
        let target = limit.map { min($0, seconds) } ?? seconds
        let deadline = max(origin.advanced(by: .pacerSeconds(target)), .now.advanced(by: .nanoseconds(1)))
        try await ContinuousClock().sleep(until: deadline, unlessStopped: control)
    }

    /// One round trip: books a lease of `requests` slots and `tokens` tokens.
    private func fetch(requests: Int, tokens: Int) async throws {
        let limits = configuration.limits
        let (learnedRPM, learnedTPM, unlimited, forget) = state.withLock { state in
            defer {
                state.unsentRPM = nil
                state.unsentTPM = nil
                state.forgetLearned = false
            }
            return (state.unsentRPM, state.unsentTPM, state.unlimitedSeen, state.forgetLearned)
        }
        let settle = state.withLock { $0.lease.settlement() }
        let sent = now
        let (name, probeSeconds, database) = (configuration.name, configuration.probeSeconds, database)
        let burst = limits.burst.pacerSeconds
        typealias Lease = (Int, Int64, Double, Double, Double, Double?, Double?, Double)
        let leases: [Lease]
        do {
            // Abandoned when unanswered while the database answers others (a connection the
            // pool kept across a restart can leave a statement unanswered for good): every
            // request of this process waits on the lease, so it must not wait forever.
            leases = try await database.abandoning(after: Self.abandonUnanswered, "lease from the shared quota") {
                let rows = try await database.query(
                    """
                    SELECT granted, granted_tokens, window_start, spacing, db_now, rpm, tpm, breaker_until
                    FROM pacer_quota_book(\(name), \(requests), \(Int64(tokens)),
                        \(limits.requestsPerMinute), \(limits.tokensPerMinute), \(learnedRPM), \(learnedTPM), \(unlimited),
                        \(limits.headroom), \(probeSeconds), \(60.0), \(Int64(settle)), \(burst), \(forget))
                    """
                )
                var leases: [Lease] = []
                for try await lease in rows.decode(Lease.self) { leases.append(lease) }
                return leases
            }
        } catch {
            // The learned limits and the settlement were not written: the next lease carries them.
            state.withLock { state in
                state.unsentRPM = state.unsentRPM ?? learnedRPM
                state.unsentTPM = state.unsentTPM ?? learnedTPM
                state.lease.unsettle(settle)
                if forget { state.forgetLearned = true }
            }
            throw error
        }
        for (granted, grantedTokens, start, spacing, databaseNow, rpm, tpm, breakerUntil) in leases {
            // A breaker another process opened before this one listened (or while the
            // announcement was lost): hold as it does. Each opening once, so that a breaker
            // closed here by a probe that got through is not opened again by the same row.
            let newBreaker = state.withLock { state in
                guard breakerUntil > databaseNow, breakerUntil > state.breakerUntilSeen else { return false }
                state.breakerUntilSeen = breakerUntil
                return true
            }
            if newBreaker { local.tripBreaker(for: .pacerSeconds(breakerUntil - databaseNow)) }
            let received = now
            // The database's clock at the middle of the round trip.
            let offset = databaseNow - (sent + received) / 2
            let grant = PostgresQuotaStateMachine.Grant(
                requests: granted,
                tokens: grantedTokens >= Int64(Int.max) ? Int.max : Int(grantedTokens),
                start: start - offset,
                spacing: spacing,
                retryAt: granted == 0 ? start - offset : nil
            )
            state.withLock { state in
                state.clockOffset = offset
                state.leases += 1
                state.tokenLimit = configuration.limits.tokensPerMinute ?? tpm
                if let rpm {
                    state.knowsLimits = true
                    state.lease.maxRequests = Self.maxLease(perMinute: rpm, leaseSeconds: configuration.leaseSeconds)
                } else if tpm != nil {
                    state.knowsLimits = true
                } else if granted > 1 {
                    // No limit, and more than the probe granted: the server has none. Slots
                    // cost nothing then, so lease them in large runs (a lease still follows
                    // this process's demand, doubling while used up).
                    state.knowsLimits = true
                    state.lease.maxRequests = Self.unlimitedLease
                }
                state.lease.apply(grant, now: received)
            }
        }
    }

    /// Ends a booking: learns the server's limits from its headers (for every process), gives
    /// the tokens it did not use back to the row at once (``run()`` sends them), and feeds this process's breaker (telling the others
    /// when it opens).
    public func release(_ reservation: QuotaReservation, outcome: QuotaOutcome) {
        if let cooldown = local.releaseNotingBreaker(reservation, outcome: outcome) {
            announcementsContinuation.yield(.breaker(seconds: cooldown.pacerSeconds))
        }
        let unused = outcome.unusedTokens(of: reservation.tokens)
        let snapshot = outcome.rateLimit
        if unused > 0 {
            state.withLock { $0.lease.refund(tokens: unused) }
            settlementsContinuation.yield()
        }
        state.withLock { state in
            guard outcome.isAnswer, configuration.limits.learnFromServer else { return }
            let rpm = snapshot?.requestLimit.map(Double.init)
            let tpm = snapshot?.tokenLimit.map(Double.init)
            if rpm != nil || tpm != nil { state.heardLimits = true }
            // A server that answers a counted request (a success with usage) without any limit
            // header has none: limits the row learned before (from another server, in an
            // earlier run) would pace it for nothing, so the row is told to drop them, once.
            // Not when this process has heard limits itself (a header missing from one answer).
            if rpm == nil, tpm == nil, outcome.countedTokens, !state.heardLimits, !state.forgotLearned,
                configuration.limits.requestsPerMinute == nil, configuration.limits.tokensPerMinute == nil,
                state.knowsLimits, state.tokenLimit != nil || state.lease.maxRequests != Self.unlimitedLease
            {
                state.forgetLearned = true
                state.forgotLearned = true
                state.lease.askSoon()
            }
            if let rpm, rpm != state.learnedRPM {
                state.learnedRPM = rpm
                state.unsentRPM = rpm
            }
            if let tpm, tpm != state.learnedTPM {
                state.learnedTPM = tpm
                state.unsentTPM = tpm
            }
            if !state.knowsLimits {
                // The probe's answer: tell the row now, so that every process stops probing.
                if rpm == nil, tpm == nil { state.unlimitedSeen = true }
                state.lease.askSoon()
            }
        }
    }

    /// Holds this process at once and every other through the database (and `NOTIFY`).
    @discardableResult
    public func pause(for duration: Duration) -> Bool {
        let holds = local.pause(for: duration)
        announcementsContinuation.yield(.pause(seconds: duration.pacerSeconds))
        return holds
    }

    /// Records a first attempt (for this process's retry budget).
    public func recordFirstAttempt() { local.recordFirstAttempt() }

    /// Takes a retry from this process's budget.
    public func tryRetry() -> Bool { local.tryRetry() }
}

/// What the database holds for one shared quota.
public struct StoredQuota: Sendable, Hashable {
    /// The request limit learned from the server (per minute), if any.
    public var learnedRequestsPerMinute: Double?
    /// The token limit learned from the server (per minute), if any.
    public var learnedTokensPerMinute: Double?
    /// Leases booked by every process so far (one database round trip each).
    public var leases: Int
    /// Request slots granted by those leases.
    public var grantedRequests: Int

    /// Reads quota `name`; `nil` when no process has used it yet.
    public static func read(_ name: String, from database: QueueDatabase) async throws -> StoredQuota? {
        let rows = try await database.query(
            "SELECT learned_rpm, learned_tpm, leases, granted FROM pacer_quotas WHERE name = \(name)"
        )
        for try await (rpm, tpm, leases, granted) in rows.decode((Double?, Double?, Int64, Int64).self) {
            return StoredQuota(
                learnedRequestsPerMinute: rpm,
                learnedTokensPerMinute: tpm,
                leases: Int(leases),
                grantedRequests: Int(granted)
            )
        }
        return nil
    }
}
