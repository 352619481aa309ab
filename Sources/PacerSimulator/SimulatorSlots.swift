import Synchronization

/// How a self-hosted LLM server (vLLM, llama.cpp, Ollama, TGI) serves: a fixed number of
/// slots decode in parallel, continuous-batching style, so that a decoding step takes a little
/// longer the more slots are busy (see ``stepTime(busy:)``); a request past the slots queues,
/// and past a bounded queue it is refused with 503, as Ollama refuses when its queue is full.
public struct SimulatorSlots: Sendable, Hashable {
    /// Requests decoded in parallel.
    public var count: Int
    /// The time one output token takes in a slot when it is the only one busy.
    public var tokenLatency: Duration
    /// The most requests waiting for a slot; `nil` for no bound.
    public var maxQueue: Int?
    /// After this many requests, the slots halve (a server that loses capacity mid-run);
    /// `nil` never.
    public var halveAfter: Int?

    /// Creates a slot model.
    public init(count: Int, tokenLatency: Duration = .milliseconds(20), maxQueue: Int? = nil, halveAfter: Int? = nil) {
        precondition(count >= 1, "slots must be at least 1")
        self.count = count
        self.tokenLatency = tokenLatency
        self.maxQueue = maxQueue
        self.halveAfter = halveAfter
    }

    /// How much longer a decoding step gets per other busy slot: 3 %, as a continuous-batching
    /// server's step grows gently with its batch.
    public static let stepGrowthPerBusySlot = 0.03

    /// The time of one output token while `busy` slots (this one included) decode:
    /// ``tokenLatency`` × (1 + 0.03 × (busy − 1)). A streamed answer takes it anew for every
    /// token; a whole (non-streamed) answer takes it once, when it gets its slot, for all its
    /// tokens.
    public func stepTime(busy: Int) -> Duration {
        tokenLatency * (1 + Self.stepGrowthPerBusySlot * Double(max(0, busy - 1)))
    }
}

/// The slots in use and the queue for them.
final class SlotPool: Sendable {
    private struct State {
        var capacity: Int
        var busy = 0
        var waiting: [CheckedContinuation<Void, Never>] = []
        var served = 0
        var halved = false
    }

    let model: SimulatorSlots
    private let state: Mutex<State>

    init(_ model: SimulatorSlots) {
        self.model = model
        self.state = Mutex(State(capacity: model.count))
    }

    /// Waits for a slot; `false` (and no slot) when the queue is full.
    func acquire() async -> Bool {
        enum Decision { case granted, queued, refused }
        var decision = Decision.refused
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            decision = state.withLock { state in
                state.served += 1
                if let after = model.halveAfter, !state.halved, state.served > after {
                    state.halved = true
                    state.capacity = max(1, state.capacity / 2)
                }
                if state.busy < state.capacity {
                    state.busy += 1
                    return .granted
                }
                if let maxQueue = model.maxQueue, state.waiting.count >= maxQueue { return .refused }
                state.waiting.append(continuation)
                return .queued
            }
            if decision != .queued { continuation.resume() }
        }
        return decision != .refused
    }

    /// The slots in use now.
    var busy: Int { state.withLock { $0.busy } }

    /// The time of one output token now (see ``SimulatorSlots/stepTime(busy:)``).
    func stepTime() -> Duration { model.stepTime(busy: busy) }

    /// Gives a slot back: to the first waiting request, if any.
    func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if !state.waiting.isEmpty, state.busy <= state.capacity {
                // The slot passes to the waiting request: busy stays the same.
                return state.waiting.removeFirst()
            }
            state.busy -= 1
            return nil
        }
        next?.resume()
    }
}

/// A slot held by a streamed answer until its stream ends. It is given back once: by
/// ``release()``, or when the lease is dropped (a response whose body was never written).
final class SlotLease: Sendable {
    private let pool: SlotPool
    private let held = Mutex(true)

    init(_ pool: SlotPool) { self.pool = pool }

    /// Gives the slot back, if it is still held.
    func release() {
        let wasHeld = held.withLock { held in
            defer { held = false }
            return held
        }
        if wasHeld { pool.release() }
    }

    deinit { release() }
}
