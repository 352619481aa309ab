import Synchronization

/// Hands finished items from the admission task to the task that delivers them, and free
/// slots back: a slot is free again only once its result has been delivered, so items read
/// but not yet delivered never exceed the number of slots, however slow delivery is.
///
/// One admission task and one delivering task use it. Its waits ignore task cancellation on
/// purpose: the delivering task must still receive the results of items cancelled with the
/// batch, and ``close()`` ends the admission task's wait.
final class ResultHandoff<Element: Sendable>: Sendable {
    private struct State {
        /// Finished items not yet received: `buffer[head...]`, in the order they finished.
        var buffer: [Element] = []
        var head = 0
        var receiver: CheckedContinuation<Element?, Never>?
        var finished = false
        var freeSlots: Int
        var slotWaiter: CheckedContinuation<Bool, Never>?
        var closed = false

        /// Takes the first buffered item, if any. The array is emptied when it has all been taken
        /// and compacted when half of it has, so taking costs no shift of what remains.
        mutating func takeFirst() -> Element? {
            guard head < buffer.count else { return nil }
            let element = buffer[head]
            head += 1
            if head == buffer.count {
                buffer.removeAll(keepingCapacity: true)
                head = 0
            } else if head >= 32, head * 2 >= buffer.count {
                buffer.removeFirst(head)
                head = 0
            }
            return element
        }
    }

    private let state: Mutex<State>

    /// Creates a handoff with `slots` free slots.
    init(slots: Int) {
        state = Mutex(State(freeSlots: slots))
    }

    /// Admission: waits for a free slot and takes it; `false` once delivery has stopped.
    func acquireSlot() async -> Bool {
        // Without waiting when a slot is free: no continuation to allocate and resume.
        let taken: Bool? = state.withLock { state in
            if state.closed { return false }
            guard state.freeSlots > 0 else { return nil }
            state.freeSlots -= 1
            return true
        }
        if let taken { return taken }
        return await withCheckedContinuation { continuation in
            let answer: Bool? = state.withLock { state in
                if state.closed { return false }
                if state.freeSlots > 0 {
                    state.freeSlots -= 1
                    return true
                }
                state.slotWaiter = continuation
                return nil
            }
            if let answer { continuation.resume(returning: answer) }
        }
    }

    /// Delivery: a result was delivered, so its slot is free.
    func releaseSlot() {
        let waiter = state.withLock { state in
            if let waiter = state.slotWaiter {
                state.slotWaiter = nil
                return Optional(waiter)
            }
            state.freeSlots += 1
            return nil
        }
        waiter?.resume(returning: true)
    }

    /// Delivery stopped (its callback threw): no more slots, and results sent from now on are
    /// dropped.
    func close() {
        let waiter = state.withLock { state in
            state.closed = true
            state.buffer.removeAll()
            state.head = 0
            defer { state.slotWaiter = nil }
            return state.slotWaiter
        }
        waiter?.resume(returning: false)
    }

    /// Admission: a finished item, for delivery.
    func send(_ element: Element) {
        let receiver = state.withLock { state in
            if state.closed { return CheckedContinuation<Element?, Never>?.none }
            if let receiver = state.receiver {
                state.receiver = nil
                return receiver
            }
            state.buffer.append(element)
            return nil
        }
        receiver?.resume(returning: element)
    }

    /// Admission: nothing more will be sent.
    func finish() {
        let receiver = state.withLock { state in
            state.finished = true
            defer { state.receiver = nil }
            return state.receiver
        }
        receiver?.resume(returning: nil)
    }

    /// Delivery: the next finished item, in the order they finished; `nil` after ``finish()``.
    func receive() async -> Element? {
        // Without waiting when an item is there (or the end).
        let ready: Element?? = state.withLock { state in
            if let element = state.takeFirst() { return .some(element) }
            return state.finished ? .some(nil) : nil
        }
        if let ready { return ready }
        return await withCheckedContinuation { continuation in
            let answer: Element?? = state.withLock { state in
                if let element = state.takeFirst() { return .some(element) }
                if state.finished { return .some(nil) }
                state.receiver = continuation
                return nil
            }
            if let answer { continuation.resume(returning: answer) }
        }
    }

    /// Delivery: whether every item sent so far has been received.
    var isDrained: Bool { state.withLock { $0.head == $0.buffer.count } }
}
