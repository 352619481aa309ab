import PacerCore

/// A shared quota as one deployment of a routed run (`--routes` with `--quota`): every
/// process that sends to the deployment paces against its row, and the router ranks it by its
/// lease, never waiting on a lease another deployment could beat.
extension PostgresQuota: RoutableQuota {
    /// How long until a request of `tokens` could start here, without booking it: the later
    /// of this process's next slot of the lease and its own quota's start (pauses, the breaker,
    /// the server's remaining tokens). A lease to be asked for counts as now: it is a round
    /// trip away, and ``acquireIfAdmitted(tokens:)`` hands the request back when the lease
    /// starts later. `nil` when the request is larger than the token limit or the quota stopped.
    public func earliestStart(tokens: Int) -> Duration? {
        guard !local.isStopped, (try? refuseLargerThanLimit(tokens)) != nil,
            let own = local.earliestStart(tokens: tokens)
        else { return nil }
        let now = self.now
        let shared: Double
        switch take(tokens: tokens, now: now, peek: true) {
        case .send(let at): shared = max(0, at - now)
        case .fetch: shared = 0
        // Another request is asking for a lease: a round trip.
        case .wait(nil): shared = Self.roundTrip
        case .wait(let until?): shared = max(0, until - now)
        }
        return max(own, .pacerSeconds(shared))
    }

    /// Books a request of `tokens` if this process holds a slot of the shared limit for it
    /// now or within 50 ms (asking the row for a lease when it holds none), and its
    /// own quota admits it; `nil`, booking nothing, when the row has no slot for it until
    /// later (a probe out, the limit booked by others) or cannot be reached: the router then
    /// ranks this deployment by that wait.
    ///
    /// - Throws: An `ItemError` when the request is larger than the token limit;
    ///   `RateLimitStop` when the quota stopped; `StopRequested` when the batch
    ///   (`BatchControl.current`) stops; `CancellationError`.
    public func acquireIfAdmitted(tokens: Int) async throws -> QuotaReservation? {
        let control = BatchControl.current
        var leased = false
        while true {
            try Task.checkCancellation()
            if control?.isStopping == true { throw StopRequested() }
            if local.isStopped { return try await local.acquireIfAdmitted(tokens: tokens) }
            try refuseLargerThanLimit(tokens)
            let now = self.now
            // A lease just asked for may start later than the router counted on (others
            // booked the limit first): the request goes back to be ranked again.
            if leased, case .send(let at) = take(tokens: tokens, now: now, peek: true), at - now > Self.soonEnough {
                return nil
            }
            switch take(tokens: tokens, now: now) {
            case .send(let at):
                if at > now { try await sleep(until: at, limit: nil, control) }
                return try await local.acquireIfAdmitted(tokens: tokens)
            case .wait(nil):
                try await sleep(until: now + Self.roundTrip, limit: nil, control)
            case .wait:
                return nil
            case .fetch(let requests, let wanted):
                guard try await lease(requests: requests, tokens: wanted) else { return nil }
                leased = true
            }
        }
    }

    /// How far ahead a slot from a lease just asked for may be and still be taken at once. 50 ms.
    static let soonEnough = 0.05

    /// What a lease's round trip is taken to cost while another request waits for it. 5 ms.
    static let roundTrip = 0.005
}
