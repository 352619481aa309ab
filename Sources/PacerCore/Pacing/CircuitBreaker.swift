/// Stops sending after consecutive connection failures, then probes with one request.
///
/// A pure state machine, times in seconds. Closed: everything passes; `threshold` connection
/// failures in a row open it. Open: nothing passes until the cooldown ends; then one probe
/// passes (half-open). The probe's success closes it; its failure reopens it with twice the
/// cooldown (up to `maxCooldown`).
public struct CircuitBreaker: Sendable, Hashable {
    /// The state of the breaker.
    public enum State: Sendable, Hashable {
        /// Requests pass; `failures` connection failures in a row so far.
        case closed(failures: Int)
        /// Nothing passes before `until`.
        case open(until: Double, cooldown: Double)
        /// One probe is out; nothing else passes until it ends.
        case halfOpen(cooldown: Double)
    }

    /// What a caller may do now.
    public enum Permission: Sendable, Hashable {
        /// Go ahead.
        case pass
        /// Go ahead as the probe.
        case probe
        /// Wait until the time given, or (when `nil`) until the probe ends.
        case wait(until: Double?)
    }

    /// Connection failures in a row that open the breaker. Default 5.
    public let threshold: Int
    /// The first cooldown. Default 1 s.
    public let cooldown: Double
    /// The longest cooldown. Default 30 s.
    public let maxCooldown: Double
    /// The current state.
    public private(set) var state: State = .closed(failures: 0)

    /// Creates a closed breaker.
    public init(threshold: Int = 5, cooldown: Double = 1, maxCooldown: Double = 30) {
        precondition(threshold >= 1 && cooldown > 0 && maxCooldown >= cooldown, "invalid circuit breaker")
        self.threshold = threshold
        self.cooldown = cooldown
        self.maxCooldown = maxCooldown
    }

    /// What ``permission(now:)`` would answer at `now`, without spending the probe.
    ///
    /// Callers that may still decide not to send (the pacing horizon says "later") ask this
    /// first, and take the permission only once they will send.
    public func peek(now: Double) -> Permission {
        var copy = self
        return copy.permission(now: now)
    }

    /// Asks to send a request at `now`. An answer of ``Permission/probe`` spends the probe:
    /// the caller must send it, and then ``record(connectionFailed:probe:now:)`` its end or
    /// ``abandonProbe(now:)`` it.
    public mutating func permission(now: Double) -> Permission {
        switch state {
        case .closed:
            return .pass
        case .open(let until, let cooldown):
            guard now >= until else { return .wait(until: until) }
            state = .halfOpen(cooldown: cooldown)
            return .probe
        case .halfOpen:
            return .wait(until: nil)
        }
    }

    /// Opens the breaker until `until` because someone else found the server unreachable:
    /// another process sharing the quota, whose breaker opened. A closed breaker opens with
    /// its first cooldown (so a failed probe after `until` doubles from there); an open one
    /// stays open until the later of the two times; a half-open one waits for its own probe.
    public mutating func trip(until: Double) {
        switch state {
        case .closed:
            state = .open(until: until, cooldown: cooldown)
        case .open(let current, let cooldown):
            state = .open(until: max(current, until), cooldown: cooldown)
        case .halfOpen:
            break
        }
    }

    /// Sets the state, for tests.
    package mutating func force(_ state: State) {
        self.state = state
    }

    /// When the breaker is open: until when. `nil` when closed or half-open.
    public var openUntil: Double? {
        if case .open(let until, _) = state { return until }
        return nil
    }

    /// The probe will not be sent after all: the next request may probe at once.
    public mutating func abandonProbe(now: Double) {
        if case .halfOpen(let cooldown) = state {
            state = .open(until: now, cooldown: cooldown)
        }
    }

    /// Records how a request ended: `connectionFailed` for refused or broken connections.
    ///
    /// - Parameters:
    ///   - connectionFailed: Whether the connection could not be made or broke.
    ///   - probe: Whether the request was the half-open probe. While half-open only the
    ///     probe's end counts: a request sent before the breaker opened says nothing about
    ///     the server now.
    ///   - now: The current time.
    public mutating func record(connectionFailed: Bool, probe: Bool, now: Double) {
        switch state {
        case .closed(let failures):
            guard connectionFailed else {
                state = .closed(failures: 0)
                return
            }
            state =
                failures + 1 >= threshold
                ? .open(until: now + cooldown, cooldown: cooldown) : .closed(failures: failures + 1)
        case .halfOpen(let current):
            guard probe else { return }
            if connectionFailed {
                let next = min(maxCooldown, current * 2)
                state = .open(until: now + next, cooldown: next)
            } else {
                state = .closed(failures: 0)
            }
        case .open:
            // Requests sent before the breaker opened may still end; they change nothing.
            break
        }
    }
}
