import Synchronization

/// Holds a run's items in flight to an ``AdaptiveConcurrency`` limit: admission waits for
/// room, each attempt reports its latency and outcome.
final class ConcurrencyGate: Sendable {
    private struct State {
        var limit: AdaptiveConcurrency
        var inFlight = 0
        var waiter: CheckedContinuation<Void, Never>?
        var peak = 0
    }

    private let state: Mutex<State>

    init(_ configuration: AdaptiveConcurrency.Configuration) {
        state = Mutex(State(limit: AdaptiveConcurrency(configuration: configuration)))
    }

    /// The limit now.
    var limit: Int { state.withLock { $0.limit.limit } }

    /// Waits until one more item fits under the limit, then counts it in flight.
    func enter() async {
        while true {
            var entered = false
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.inFlight < state.limit.limit {
                        state.inFlight += 1
                        entered = true
                        return true
                    }
                    state.waiter = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
            if entered { return }
        }
    }

    /// An item is done.
    func leave() {
        let waiter = state.withLock { state in
            state.inFlight -= 1
            return state.waiter.take()
        }
        waiter?.resume()
    }

    /// The items in flight now (an attempt's sample says how many there were at its send).
    var inFlight: Int { state.withLock { $0.inFlight } }

    /// One attempt's outcome; a limit that grew lets a waiting admission in.
    func record(_ sample: AdaptiveConcurrency.Sample) {
        let waiter = state.withLock { state in
            state.limit.record(sample)
            return state.inFlight < state.limit.limit ? state.waiter.take() : nil
        }
        waiter?.resume()
    }
}
