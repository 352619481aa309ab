import Synchronization

/// One running stream, as the simulator sees it: it can be cut (llama.cpp's server ends a
/// running stream when another request arrives), and its pauses end at once when it is.
final class RunningStream: Sendable {
    private struct State {
        var cut = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    /// Whether the stream has been cut.
    var isCut: Bool { state.withLock { $0.cut } }

    /// Cuts the stream: its current or next pause ends at once, reporting the cut.
    func cut() {
        let waiter = state.withLock { state in
            state.cut = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Waits until `deadline`; `true` when the stream was cut before then (the wait ends at
    /// the cut).
    ///
    /// - Throws: `CancellationError` when the task is cancelled.
    func pause(until deadline: ContinuousClock.Instant) async throws -> Bool {
        if isCut { return true }
        let cut = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                try? await Task.sleep(until: deadline, clock: .continuous)
                return false
            }
            group.addTask {
                await self.waitForCut()
                return true
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
        try Task.checkCancellation()
        return cut || isCut
    }

    /// Returns when the stream is cut or the task cancelled.
    private func waitForCut() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state in
                    // Cancellation is flagged before its handler runs: checked under the lock,
                    // it cannot slip between this check and the handler.
                    if state.cut || Task.isCancelled { return true }
                    state.waiter = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume()
        }
    }
}

/// The streams running now, oldest first.
final class RunningStreams: Sendable {
    private let running = Mutex<[RunningStream]>([])

    /// Registers a stream that starts now.
    func start() -> RunningStream {
        let stream = RunningStream()
        running.withLock { $0.append(stream) }
        return stream
    }

    /// Forgets a stream that has ended.
    func end(_ stream: RunningStream) {
        running.withLock { $0.removeAll { $0 === stream } }
    }

    /// Whether any stream runs.
    var isEmpty: Bool { running.withLock { $0.isEmpty } }

    /// Cuts the oldest running stream, if any; `true` when one was cut.
    @discardableResult
    func cutOldest() -> Bool {
        let oldest = running.withLock { $0.isEmpty ? nil : $0.removeFirst() }
        oldest?.cut()
        return oldest != nil
    }
}
