import PacerCore

/// What the stop shell opens for the work as the machine says: when to cancel the requests in
/// flight, and when to stop waiting to store results. The work decides what each one ends (a
/// file run cancels its engine; a worker cancels its requests and, separately, its storing).
package struct StopLatches: Sendable {
    /// Opens on `RunStopStateMachine.Actions.cancelInFlight`.
    package let cancelInFlight = Latch()
    /// Opens on `RunStopStateMachine.Actions.abandonStoring`.
    package let abandonStoring = Latch()
}

/// Runs `work` under `handle`'s `RunStopStateMachine`: the shell every kind of run (a file run, a
/// worker, next a server's batch) stops through.
///
/// It carries out the machine's actions as they come: `onStop` is told each set first (to
/// stop admitting: stop reading, stop claiming, `BatchControl.stopAdmitting()`, and end
/// the waits that go with them), then the grace is timed (its end is fed back as
/// `RunStopStateMachine.Event.graceEnded`) and the work's ``StopLatches`` opened when the machine says
/// so. When the work returns or throws, the machine hears `RunStopStateMachine.Event.workEnded` and
/// every helper ends.
///
/// - Returns: What `work` returned.
/// - Throws: What `work` threw.
package func underStop<T: Sendable>(
    _ handle: RunHandle,
    grace: Duration,
    onStop: @escaping @Sendable (RunStopStateMachine.Actions) -> Void,
    _ work: @escaping @Sendable (StopLatches) async throws -> T
) async throws -> T {
    let latches = StopLatches()
    return try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask {
            defer { handle.handle(.workEnded) }
            return try await work(latches)
        }
        group.addTask {
            await follow(handle, grace: grace, latches: latches, onStop: onStop)
            return nil
        }
        var result: T?
        while let value = try await group.next() {
            if let value { result = value }
        }
        guard let result else { throw CancellationError() }
        return result
    }
}

/// Carries out `handle`'s actions until the work ended.
private func follow(
    _ handle: RunHandle,
    grace: Duration,
    latches: StopLatches,
    onStop: @escaping @Sendable (RunStopStateMachine.Actions) -> Void
) async {
    await withTaskGroup(of: Void.self) { timers in
        for await actions in handle.actions {
            onStop(actions)
            if actions.contains(.startGrace) {
                timers.addTask {
                    if (try? await Task.sleep(for: grace)) != nil { handle.handle(.graceEnded) }
                }
            }
            if actions.contains(.cancelInFlight) { latches.cancelInFlight.open() }
            if actions.contains(.abandonStoring) { latches.abandonStoring.open() }
            if actions.contains(.endHelpers) { break }
        }
        timers.cancelAll()
    }
}

/// Runs `body`, cancelling it once `latch` opens; returns what it returns (after a cancel:
/// what it returns once cancelled).
package func cancelling<T: Sendable>(
    when latch: Latch,
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            await latch.wait()
            return nil
        }
        while let ended = try await group.next() {
            // The body ended first: stop waiting for the latch. The latch opened: cancel the
            // body and wait for what it returns.
            group.cancelAll()
            if let value = ended { return value }
        }
        throw CancellationError()
    }
}
