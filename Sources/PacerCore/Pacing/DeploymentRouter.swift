import Synchronization

/// Spreads requests for one model over several deployments of it, each paced by its own
/// quota (a ``Quota``, or a ``RoutableQuota`` shared with other processes for a run, see
/// ``withQuotas(_:_:)``): a request goes to the deployment that can start it soonest, so N deployments of
/// 600 requests a minute run one batch at N × 600. A deployment that fails (a refused key, a
/// spent quota, a long `retry-after`, or an open circuit breaker in its quota) stops
/// receiving requests until its cooldown ends, then gets one probe. The decisions are
/// ``DeploymentRouterStateMachine``'s; this shell waits for quotas and room on the injected clock.
///
/// ```swift
/// let router = DeploymentRouter(deployments: [.init(name: "east", quota: east), .init(name: "west", quota: west)])
/// let lease = try await router.lease(among: [0, 1], tokens: 300)
/// // send through deployment lease.index, then:
/// router.finish(lease, outcome: .answered(usedTokens: 250, rateLimit: snapshot), failure: nil)
/// ```
public final class DeploymentRouter<C: Clock>: Sendable where C.Duration == Duration {
    /// One deployment: its name, its own quota and how many requests it takes at once.
    public struct Deployment: Sendable {
        /// The name the summary shows.
        public var name: String
        /// Its own rate limits.
        public var quota: any RoutableQuota<C>
        /// Requests in flight on it at most.
        public var concurrency: Int
        /// Its share of ties.
        public var weight: Double
        /// With a value, its concurrency is adaptive (`concurrency = "auto"`), moved by its
        /// own answers' latency as `--concurrency auto` moves a run's; ``concurrency`` is then
        /// unused.
        public var adaptive: AdaptiveConcurrency.Configuration?

        /// A deployment.
        public init(
            name: String,
            quota: any RoutableQuota<C>,
            concurrency: Int = 8,
            weight: Double = 1,
            adaptive: AdaptiveConcurrency.Configuration? = nil
        ) {
            self.name = name
            self.quota = quota
            self.concurrency = concurrency
            self.weight = weight
            self.adaptive = adaptive
        }
    }

    /// A request's hold on a deployment: its index and quota booking, given back once with
    /// ``DeploymentRouter/finish(_:outcome:failure:usage:costUSD:)``.
    public struct Lease: Sendable {
        /// The deployment.
        public var index: Int
        /// The booking on its quota.
        public var reservation: QuotaReservation
        /// The quota it was booked on, which its end settles.
        var quota: any RoutableQuota<C>
        /// When it was granted, and how many were in flight on the deployment with it.
        var sent: C.Instant
        var inFlight: Int
    }

    /// The deployments, by index.
    public let deployments: [Deployment]
    /// Seconds a refused key or a spent quota keeps a deployment out. Default 60.
    public let cooldown: Double
    /// A `retry-after` longer than this many seconds cools the deployment down for that
    /// long; a shorter one pauses its quota. Default 10.
    public let longWait: Double
    private let clock: C
    private let origin: C.Instant
    private let state: Mutex<State>
    /// The quota pacing each deployment now: its own, or one ``withQuotas(_:_:)`` put in.
    private let quotas: Mutex<[any RoutableQuota<C>]>

    private struct State {
        var machine: DeploymentRouterStateMachine
        var tallies: [DeploymentTally]
        /// The adaptive limit of each deployment with `concurrency = "auto"`.
        var gates: [ConcurrencyGateStateMachine?]
        /// Bumped whenever a request ends or is given back: room may have come free.
        var version = 0
        /// Requests waiting for room, woken at the next end.
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter = 0

        /// Notes that room may have come free; returns the waiters to wake.
        mutating func changed() -> [CheckedContinuation<Void, Never>] {
            version += 1
            defer { waiters.removeAll() }
            return Array(waiters.values)
        }
    }

    /// A router over `deployments`, on `clock`.
    public init(deployments: [Deployment], cooldown: Double = 60, longWait: Double = 10, clock: C) {
        self.deployments = deployments
        self.cooldown = cooldown
        self.longWait = longWait
        self.clock = clock
        self.origin = clock.now
        self.quotas = Mutex(deployments.map(\.quota))
        let gates = deployments.map { $0.adaptive.map { ConcurrencyGateStateMachine(configuration: $0) } }
        let limits = zip(deployments, gates).map { deployment, gate in gate?.limit ?? max(1, deployment.concurrency) }
        state = Mutex(
            State(
                machine: DeploymentRouterStateMachine(
                    zip(deployments, limits).map { .init(limit: $1, weight: $0.weight) }
                ),
                tallies: deployments.map { DeploymentTally(name: $0.name) },
                gates: gates
            )
        )
    }

    private var now: Double { origin.duration(to: clock.now).pacerSeconds }

    /// Runs `body` with `quotas` (one per deployment, in order) pacing the deployments in
    /// place of their own: quotas shared with the other processes that send to the same
    /// deployments (one row per deployment in PostgreSQL), for one run. Each deployment's own
    /// quota is back when `body` ends. Start it when no request is in flight.
    public func withQuotas<T: Sendable>(
        _ quotas: [any RoutableQuota<C>],
        _ body: () async throws -> T
    ) async rethrows -> T {
        precondition(quotas.count == deployments.count, "one quota per deployment")
        let own = self.quotas.withLock { current in
            defer { current = quotas }
            return current
        }
        defer { self.quotas.withLock { $0 = own } }
        return try await body()
    }

    /// What each deployment did so far.
    public var tallies: [DeploymentTally] { state.withLock { $0.tallies } }

    /// Whether an item that failed on deployment `failed` may go to another of `candidates`
    /// now or after a cooldown.
    public func hasAlternative(to failed: Int, among candidates: [Int]) -> Bool {
        let now = self.now
        return state.withLock { $0.machine.anyUsable(candidates, excluding: failed, now: now) }
    }

    /// Waits for the deployment among `candidates` (indices) that can start a request of
    /// `tokens` soonest, and books the request on its quota.
    ///
    /// - Throws: `CancellationError` when cancelled; a `cancelled` `ItemError` (not sent, not
    ///   done) when the batch running it stops (``BatchControl/current``) while it waits; the
    ///   quota's `ItemError` when the request can fit none of the deployments' limits.
    public func lease(among candidates: [Int], tokens: Int) async throws -> Lease {
        let control = BatchControl.current
        while true {
            try Task.checkCancellation()
            if control?.isStopping == true {
                throw ItemError.notSent("the batch is stopping")
            }
            let quotas = self.quotas.withLock { $0 }
            let starts = candidates.map { (index: $0, start: quotas[$0].earliestStart(tokens: tokens)) }
            if starts.allSatisfy({ $0.start == nil }) {
                // Larger than every limit, or every quota stopped: the first quota throws which
                // (at once: it waits for nothing).
                let quota = quotas[candidates[0]]
                quota.release(
                    try await quota.acquire(tokens: tokens, before: nil, unlessStopped: nil),
                    outcome: .notSent
                )
                continue
            }
            let now = self.now
            let chosen = state.withLock { state -> (index: Int, inFlight: Int)? in
                guard let index = state.machine.choose(starts, now: now) else { return nil }
                state.machine.take(index, now: now)
                return (index, state.machine.deployments[index].inFlight)
            }
            guard let (index, inFlight) = chosen else {
                // None open. One cooling down comes back at a known time: look again then
                // (or in 50 ms); all busy: wait until a request ends.
                let (until, version) = state.withLock { ($0.machine.nextCooldownEnd(candidates), $0.version) }
                if let until {
                    try? await clock.sleep(
                        until: clock.now.advanced(by: .pacerSeconds(max(0.001, min(until - now, 0.05)))),
                        unlessStopped: control
                    )
                    try Task.checkCancellation()
                } else {
                    await waitForRoom(after: version)
                    try Task.checkCancellation()
                }
                continue
            }
            // Booked only if the deployment admits it now: one whose breaker opened or whose
            // probe is out since the look above is not waited on; look again.
            let reservation: QuotaReservation?
            do {
                reservation = try await quotas[index].acquireIfAdmitted(tokens: tokens)
            } catch {
                let waiters = state.withLock { state in
                    state.machine.giveBack(index)
                    return state.changed()
                }
                for waiter in waiters { waiter.resume() }
                if error is StopRequested {
                    throw ItemError.notSent("the batch is stopping")
                }
                throw error
            }
            if let reservation {
                return Lease(
                    index: index,
                    reservation: reservation,
                    quota: quotas[index],
                    sent: clock.now,
                    inFlight: inFlight
                )
            }
            let waiters = state.withLock { state in
                state.machine.giveBack(index)
                return state.changed()
            }
            for waiter in waiters { waiter.resume() }
            // Its quota holds requests for a while (a probe out, its breaker open, a shared
            // quota's next lease later): the next look ranks it by that wait, taken when the
            // soonest candidate could start (between 5 and 50 ms from now).
            let soonest = candidates.compactMap { quotas[$0].earliestStart(tokens: tokens)?.pacerSeconds }.min()
            let pause = max(0.005, min(soonest ?? 0.05, 0.05))
            try? await clock.sleep(until: clock.now.advanced(by: .pacerSeconds(pause)), unlessStopped: control)
            try Task.checkCancellation()
        }
    }

    /// Ends a lease: settles its quota booking with `outcome`, pauses the deployment's quota
    /// for a short `retry-after`, cools the deployment down when `failure` says so, and moves
    /// an adaptive deployment's limit by the answer's latency per output token
    /// (`outputTokens`, or per request when it is `nil`).
    public func finish(
        _ lease: Lease,
        outcome: QuotaOutcome,
        failure: ItemError?,
        usage: TokenUsage? = nil,
        costUSD: Double? = nil
    ) {
        let outputTokens = usage?.completion
        let quota = lease.quota
        quota.release(lease.reservation, outcome: outcome)
        var verdict = DeploymentRouterStateMachine.Verdict.none
        if let failure {
            verdict = DeploymentRouterStateMachine.verdict(for: failure, cooldown: cooldown, longWait: longWait)
            if case .none = verdict, failure.status == 429 {
                // A short wait: this deployment's quota holds its requests; the others go on.
                quota.pause(for: failure.retryAfter ?? .seconds(1))
            }
        }
        let now = self.now
        let seconds = lease.sent.duration(to: clock.now).pacerSeconds
        let waiters = state.withLock { state in
            state.machine.finished(lease.index, verdict: verdict, now: now)
            if var gate = state.gates[lease.index] {
                let sample: AdaptiveConcurrency.Sample
                if let failure {
                    let overloaded =
                        failure.kind == .timeout || failure.status == 503
                        || (failure.status == 429 && failure.rateLimit?.requestLimit == nil
                            && failure.rateLimit?.tokenLimit == nil)
                    sample = overloaded ? .overloaded : .other
                } else {
                    sample = .answered(
                        secondsPerUnit: seconds / Double(max(1, outputTokens ?? 1)),
                        inFlight: lease.inFlight
                    )
                }
                gate.record(sample)
                state.gates[lease.index] = gate
                state.machine.setLimit(lease.index, to: gate.limit)
            }
            if outcome != .notSent { state.tallies[lease.index].requests += 1 }
            if let failure {
                if failure.status == 429 {
                    state.tallies[lease.index].rateLimited += 1
                } else {
                    state.tallies[lease.index].failed += 1
                }
            }
            if case .coolDown = verdict { state.tallies[lease.index].cooldowns += 1 }
            if let usage { state.tallies[lease.index].tokens = state.tallies[lease.index].tokens + usage }
            if let costUSD { state.tallies[lease.index].costUSD = (state.tallies[lease.index].costUSD ?? 0) + costUSD }
            return state.changed()
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Waits until a request ends or is given back (the state's version moves past
    /// `version`), or the task is cancelled.
    private func waitForRoom(after version: Int) async {
        let id = state.withLock { state -> Int in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    if state.version != version || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }
}

/// What one deployment of a routed run did: the summary's breakdown per deployment.
public struct DeploymentTally: Sendable, Hashable, Codable {
    /// The deployment's name.
    public var name: String
    /// Requests sent to it.
    public var requests = 0
    /// Its 429 answers.
    public var rateLimited = 0
    /// Its other failed requests.
    public var failed = 0
    /// Times it was cooled down.
    public var cooldowns = 0
    /// Tokens its answers reported.
    public var tokens = TokenUsage()
    /// What its answers cost, when their prices are known.
    public var costUSD: Double?

    /// An empty tally for `name`.
    public init(name: String) { self.name = name }
}
