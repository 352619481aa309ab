import Synchronization

/// Holds a run's attempts in flight to an ``AdaptiveConcurrency`` limit: an item enters before
/// its first attempt (at admission) and again before each retry, and leaves while it backs
/// off, so that retries wait for room as new items do. Each attempt reports its latency and
/// outcome.
///
/// Counting attempts, not admitted items, is what keeps a limit that dropped: items admitted
/// under a higher limit would otherwise all retry at once, and against a server that serves
/// one request at a time (a newcomer cuts the running stream) cut each other again.
final class ConcurrencyGate: Sendable {
    private struct State {
        var limit: ConcurrencyGateStateMachine
        var inFlight = 0
        /// Who waits for room, first come first in.
        var waiters: [CheckedContinuation<Void, Never>] = []

        /// Lets waiters in while there is room; returns them, already counted in flight.
        mutating func admitWaiting() -> [CheckedContinuation<Void, Never>] {
            var admitted: [CheckedContinuation<Void, Never>] = []
            while inFlight < limit.limit, !waiters.isEmpty {
                inFlight += 1
                admitted.append(waiters.removeFirst())
            }
            return admitted
        }
    }

    private let state: Mutex<State>

    init(_ configuration: AdaptiveConcurrency.Configuration) {
        state = Mutex(State(limit: ConcurrencyGateStateMachine(configuration: configuration)))
    }

    /// The limit now.
    var limit: Int { state.withLock { $0.limit.limit } }

    /// Waits until one more attempt fits under the limit (after those waiting before it), then
    /// counts it in flight.
    func enter() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                if state.inFlight < state.limit.limit, state.waiters.isEmpty {
                    state.inFlight += 1
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    /// An attempt is over (its item finished, or backs off); its room goes to the next waiter.
    func leave() {
        let admitted = state.withLock { state in
            state.inFlight -= 1
            return state.admitWaiting()
        }
        for waiter in admitted { waiter.resume() }
    }

    /// The attempts in flight now (an attempt's sample says how many there were at its send).
    var inFlight: Int { state.withLock { $0.inFlight } }

    /// One attempt's outcome; a limit that grew lets waiters in.
    func record(_ sample: AdaptiveConcurrency.Sample) {
        let admitted = state.withLock { state in
            state.limit.record(sample)
            return state.admitWaiting()
        }
        for waiter in admitted { waiter.resume() }
    }
}
