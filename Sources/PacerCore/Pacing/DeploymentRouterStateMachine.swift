/// The decisions of a ``DeploymentRouter``, as pure values: which deployment a request goes to, and
/// what a failure says about its deployment.
///
/// Each deployment is healthy, cooling down (after a failure that waiting out cures: a
/// refused key, a spent quota, a long `retry-after`), or probing (its cooldown is over and
/// one request is out to see whether it works again). A request goes to the deployment that
/// can start it soonest by its own quota, among those that serve its model, are not cooling
/// down and have room for one more in flight; ties go to the one with the fewest in flight
/// for its weight.
public struct DeploymentRouterStateMachine: Sendable {
    /// What a deployment is fit for now.
    public enum Health: Sendable, Hashable {
        /// Takes requests up to its concurrency.
        case healthy
        /// Takes none until the given time.
        case coolingDown(until: Double)
        /// Takes one, whose outcome decides.
        case probing
    }

    /// One deployment's state.
    public struct Deployment: Sendable, Hashable {
        /// Requests in flight on it.
        public var inFlight = 0
        /// Its concurrency limit.
        public var limit: Int
        /// Its share of ties.
        public var weight: Double
        /// What it is fit for.
        public var health = Health.healthy

        /// A deployment of `limit` requests at once and `weight`.
        public init(limit: Int, weight: Double) {
            self.limit = limit
            self.weight = weight
        }
    }

    /// What a failed request says about its deployment.
    public enum Verdict: Sendable, Hashable {
        /// Nothing about the deployment (a bad request, a timeout): it keeps its health.
        case none
        /// Cool it down for this many seconds, then probe it.
        case coolDown(seconds: Double)
    }

    /// Every deployment, by index.
    public private(set) var deployments: [Deployment]

    /// Deployments of these limits and weights.
    public init(_ deployments: [Deployment]) {
        self.deployments = deployments
    }

    /// Whether deployment `index` may take a request now.
    public func isOpen(_ index: Int, now: Double) -> Bool {
        let deployment = deployments[index]
        switch deployment.health {
        case .healthy: return deployment.inFlight < deployment.limit
        case .coolingDown(let until): return now >= until && deployment.inFlight == 0
        case .probing: return false
        }
    }

    /// Whether any of `candidates` is not cooling down at `now` (an item failed on one of
    /// them may go to another).
    public func anyUsable(_ candidates: some Sequence<Int>, excluding excluded: Int? = nil, now: Double) -> Bool {
        candidates.contains { index in
            guard index != excluded else { return false }
            if case .coolingDown(let until) = deployments[index].health { return now >= until }
            return true
        }
    }

    /// The deployment to send to among `candidates`, each with how soon its quota could start
    /// the request (`nil`: never); `nil` when none is open.
    public func choose(_ candidates: [(index: Int, start: Duration?)], now: Double) -> Int? {
        var best: (index: Int, start: Duration, load: Double)?
        for (index, start) in candidates {
            guard let start, isOpen(index, now: now) else { continue }
            let deployment = deployments[index]
            let load = Double(deployment.inFlight) / max(deployment.weight, .leastNonzeroMagnitude)
            // Starts within a millisecond of each other are a tie.
            if let current = best {
                if start < current.start - .milliseconds(1) {
                    best = (index, start, load)
                } else if start <= current.start + .milliseconds(1), load < current.load {
                    best = (index, min(start, current.start), load)
                }
            } else {
                best = (index, start, load)
            }
        }
        return best?.index
    }

    /// Deployment `index` takes a request (after ``choose(_:now:)``): one more in flight; a
    /// cooled-down deployment sends it as its probe.
    public mutating func take(_ index: Int, now: Double) {
        deployments[index].inFlight += 1
        if case .coolingDown = deployments[index].health { deployments[index].health = .probing }
    }

    /// A request taken from deployment `index` was not sent after all.
    public mutating func giveBack(_ index: Int) {
        deployments[index].inFlight -= 1
        if deployments[index].health == .probing { deployments[index].health = .coolingDown(until: 0) }
    }

    /// A request on deployment `index` ended: `verdict` says what it showed.
    public mutating func finished(_ index: Int, verdict: Verdict, now: Double) {
        deployments[index].inFlight -= 1
        switch verdict {
        case .coolDown(let seconds):
            deployments[index].health = .coolingDown(until: now + seconds)
        case .none:
            if deployments[index].health == .probing { deployments[index].health = .healthy }
        }
    }

    /// Sets deployment `index`'s concurrency limit (adaptive concurrency moved it).
    public mutating func setLimit(_ index: Int, to limit: Int) {
        deployments[index].limit = max(1, limit)
    }

    /// The earliest time a deployment among `candidates` that is cooling down comes back.
    public func nextCooldownEnd(_ candidates: some Sequence<Int>) -> Double? {
        candidates.compactMap { index -> Double? in
            if case .coolingDown(let until) = deployments[index].health { return until }
            return nil
        }.min()
    }

    /// What a failure says about its deployment: a refused key (401, 403) or a spent quota
    /// (`insufficient_quota`) cool it down for `cooldown` seconds; a wait asked for longer
    /// than `longWait` seconds for that wait. Anything else is the request's or passes.
    public static func verdict(for failure: ItemError, cooldown: Double, longWait: Double) -> Verdict {
        if failure.status == 401 || failure.status == 403 { return .coolDown(seconds: cooldown) }
        if failure.status == 429, !failure.isRetryable { return .coolDown(seconds: cooldown) }
        if let wait = failure.retryAfter?.pacerSeconds, wait > longWait { return .coolDown(seconds: wait) }
        return .none
    }
}
