import Synchronization

/// A one-way switch that tasks can wait for: fired once, it stays fired. The worker's stages
/// of stopping (stop claiming, cancel requests, stop waiting for the database) are triggers.
final class Trigger: Sendable {
    private struct State {
        var fired = false
        var nextWaiter = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
    }

    private let state = Mutex(State())

    /// Whether ``fire()`` was called.
    var isFired: Bool { state.withLock { $0.fired } }

    /// Fires the trigger: every wait ends, now and later.
    func fire() {
        let waiters = state.withLock { state in
            state.fired = true
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once the trigger fires or the calling task is cancelled.
    func wait() async {
        let id = state.withLock { state in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let waiting = state.withLock { state in
                    guard !state.fired, !Task.isCancelled else { return false }
                    state.waiters[id] = continuation
                    return true
                }
                if !waiting { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume()
        }
    }

    /// Returns once the trigger fires, `duration` passes, or the task is cancelled.
    func wait(upTo duration: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await Task.sleep(for: duration) }
            group.addTask { await self.wait() }
            await group.next()
            group.cancelAll()
        }
    }
}

/// Runs `body`, cancelling it when `trigger` fires (it may still return a value: a batch
/// runner returns its summary with the cancelled items), and returns what it returns.
func cancelling<T: Sendable>(
    when trigger: Trigger,
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            await trigger.wait()
            return nil
        }
        while let ended = try await group.next() {
            // The body ended first: stop waiting for the trigger. The trigger fired: cancel
            // the body and wait for what it returns.
            group.cancelAll()
            if let value = ended { return value }
        }
        throw CancellationError()
    }
}

extension Trigger {
    /// A wake-up call for one waiting task: a ring while nobody waits is kept for the next wait.
    final class Bell: Sendable {
        private struct State {
            var rung = false
            var waiter: CheckedContinuation<Void, Never>?
        }

        private let state = Mutex(State())

        /// Wakes the waiter, or the next one.
        func ring() {
            let waiter = state.withLock { state in
                guard let waiter = state.waiter else {
                    state.rung = true
                    return CheckedContinuation<Void, Never>?.none
                }
                state.waiter = nil
                return waiter
            }
            waiter?.resume()
        }

        /// Returns when rung (or if rung since the last wait), after `duration`, or when cancelled.
        func wait(upTo duration: Duration) async {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { try? await Task.sleep(for: duration) }
                group.addTask { await self.wait() }
                await group.next()
                group.cancelAll()
            }
        }

        private func wait() async {
            await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let waiting = state.withLock { state in
                        if state.rung || Task.isCancelled {
                            state.rung = false
                            return false
                        }
                        state.waiter = continuation
                        return true
                    }
                    if !waiting { continuation.resume() }
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
}
