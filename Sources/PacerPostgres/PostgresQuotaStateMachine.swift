/// The share of a quota that one process holds when many processes pace against one limit:
/// the pure core of ``PostgresQuota``, with times in seconds on the process's own clock.
///
/// The shared store hands out *leases*: a run of request slots, `spacing` apart, starting at
/// a time it chose on the shared timeline (so that the leases of all processes never overlap
/// and together never pass the limit), with the tokens those requests may use. A caller takes
/// the next slot and sends at its time. Slots whose time passed unused are dropped, never
/// sent late in a burst; so nothing a process leaves unused can push the total past the limit.
///
/// A lease is about a second of the process's own demand: the first asks for one slot, and a
/// lease used up doubles the next (up to ``maxRequests``); one that went partly unused asks
/// for what was used, plus one.
///
/// Each slot is booked for its request's estimated tokens; what a request did not use is
/// given back to the shared store as soon as its answer is back (``refund(tokens:)``,
/// ``settlement()``), so that the next booking of any process counts real usage.
package struct PostgresQuotaStateMachine: Sendable, Equatable {
    /// What the shared store granted, on this process's clock.
    package struct Grant: Sendable, Equatable {
        /// Request slots granted (0: none, ask again at ``retryAt``).
        package var requests: Int
        /// Tokens the slots may use together (`Int.max`: no token limit).
        package var tokens: Int
        /// The first slot's time.
        package var start: Double
        /// Seconds between slots.
        package var spacing: Double
        /// When nothing was granted: when to ask again.
        package var retryAt: Double?

        /// Creates a grant.
        package init(requests: Int, tokens: Int, start: Double, spacing: Double, retryAt: Double? = nil) {
            self.requests = requests
            self.tokens = tokens
            self.start = start
            self.spacing = spacing
            self.retryAt = retryAt
        }
    }

    /// What a caller that wants to send does next.
    package enum Decision: Sendable, Equatable {
        /// Send at this time: a slot is booked.
        case send(at: Double)
        /// Ask the shared store for a lease of this many requests and tokens, then decide again.
        /// The caller that gets this must end with ``apply(_:now:)`` or ``fetchFailed(retryAt:)``.
        case fetch(requests: Int, tokens: Int)
        /// Decide again at this time, or soon (`nil`: another caller is fetching a lease).
        case wait(until: Double?)
    }

    /// The most slots one lease asks for: about ``leaseSeconds`` at the whole limit, once known.
    package var maxRequests: Int
    /// How far ahead of now a process books: it asks for no new lease while its last slot is
    /// further ahead than this. Default 1 s.
    package var leaseSeconds: Double

    private var slotsLeft = 0
    private var nextSlot = 0.0
    private var spacing = 0.0
    private var tokensLeft = 0
    private var tokensGranted = 0
    private var granted = 0
    /// Slots of the current lease taken (not dropped).
    private var taken = 0
    private var fetching = false
    private var heardWhileFetching = false
    private var retryAt: Double?
    private var nextWant = 1
    /// Tokens asked per request lately (a moving average), to size a lease's tokens.
    private var tokensPerRequest = 0.0
    /// Tokens booked from the shared store and not used, to be given back with the next
    /// lease: refunds beyond what this lease can take, and a given-up lease's tokens.
    private var unsettled = 0

    /// Creates an empty lease.
    ///
    /// - Parameters:
    ///   - maxRequests: The most slots one lease asks for (default 10, until the limit is known).
    ///   - leaseSeconds: How far ahead a process books (default 1 s).
    package init(maxRequests: Int = 10, leaseSeconds: Double = 1) {
        self.maxRequests = max(1, maxRequests)
        self.leaseSeconds = leaseSeconds
    }

    /// Takes a slot for a request of about `tokens` tokens, or says how to get one.
    package mutating func take(tokens: Int, now: Double) -> Decision {
        tokensPerRequest = tokensPerRequest == 0 ? Double(tokens) : tokensPerRequest * 0.9 + Double(tokens) * 0.1
        dropMissedSlots(now: now)
        if slotsLeft > 0, tokensLeft >= tokens {
            slotsLeft -= 1
            taken += 1
            tokensLeft -= tokens
            let at = nextSlot
            nextSlot += spacing
            return .send(at: at)
        }
        if fetching { return .wait(until: nil) }
        if let retryAt, retryAt > now { return .wait(until: retryAt) }
        // Booked far enough ahead: the next lease is asked for when this one's last slot is
        // less than a lease away.
        let lastBooked = nextSlot - spacing
        if slotsLeft == 0, granted > 0, lastBooked - now > leaseSeconds {
            return .wait(until: lastBooked - leaseSeconds)
        }
        if granted > 0 { nextWant = taken >= granted ? min(maxRequests, granted * 2) : max(1, taken + 1) }
        // Slots the tokens cannot fill are given up with the lease, and its tokens go back.
        slotsLeft = 0
        if tokensGranted != .max { unsettled += tokensLeft }
        tokensLeft = 0
        fetching = true
        let want = min(nextWant, maxRequests)
        // Each slot booked for the recent average, and at least for the request asking (what
        // its slot does not use is given back): a lease too small for it would be given up
        // and asked for again.
        let perSlot = max(tokensPerRequest, Double(tokens))
        return .fetch(requests: want, tokens: Int((perSlot * Double(want)).rounded(.up)))
    }

    /// Takes a lease the shared store granted.
    package mutating func apply(_ grant: Grant, now: Double) {
        fetching = false
        granted = grant.requests
        taken = 0
        slotsLeft = grant.requests
        nextSlot = grant.start
        spacing = grant.spacing
        tokensLeft = grant.tokens
        tokensGranted = grant.tokens
        retryAt = grant.requests == 0 && !heardWhileFetching ? (grant.retryAt ?? now + 0.25) : nil
        heardWhileFetching = false
        dropMissedSlots(now: now)
    }

    /// Asking for a lease failed: ask again at `retryAt`.
    package mutating func fetchFailed(retryAt: Double) {
        fetching = false
        heardWhileFetching = false
        self.retryAt = retryAt
    }

    /// Asks for a lease at the next decision (the limits just became known, or another
    /// process gave tokens back). Heard while a lease is being asked for, it also sets aside
    /// that lease's "ask again later": its answer may predate what was heard.
    package mutating func askSoon() {
        retryAt = nil
        if fetching { heardWhileFetching = true }
    }

    /// Gives back tokens a request booked and did not use: they go to the shared store at
    /// once (``settlement()``), where every process's next booking can use them.
    package mutating func refund(tokens: Int) {
        guard tokens > 0, tokensGranted != .max else { return }
        unsettled += tokens
    }

    /// Takes the tokens to give back to the shared store; give them back with
    /// ``unsettle(_:)`` when that fails.
    package mutating func settlement() -> Int {
        defer { unsettled = 0 }
        return unsettled
    }

    /// Tokens a failed lease did not give back: they go with the next one.
    package mutating func unsettle(_ tokens: Int) {
        unsettled += max(0, tokens)
    }

    /// Slots whose time passed more than a slot ago are dropped: sent now, they would crowd
    /// another process's slots.
    private mutating func dropMissedSlots(now: Double) {
        guard slotsLeft > 0, spacing > 0, now - nextSlot > spacing else { return }
        let missed = min(slotsLeft, Int(((now - nextSlot) / spacing).rounded(.down)))
        slotsLeft -= missed
        nextSlot += Double(missed) * spacing
    }
}
