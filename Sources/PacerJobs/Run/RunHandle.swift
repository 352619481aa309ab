import PacerCore
import Synchronization

/// The outside's hold on a running run: a signal watcher, an API's cancel or a test tells it
/// to stop, and the run acts on what its `RunStopStateMachine` says. One handle per run.
///
/// The run reads ``actions`` and carries them out; events that come before the run starts
/// are kept and acted on when it does.
package final class RunHandle: Sendable {
    private let stop = Mutex(RunStopStateMachine())
    private let stream: AsyncStream<RunStopStateMachine.Actions>
    private let continuation: AsyncStream<RunStopStateMachine.Actions>.Continuation

    /// A handle for a run not started yet.
    package init() {
        (stream, continuation) = AsyncStream.makeStream(of: RunStopStateMachine.Actions.self)
    }

    /// A signal (Ctrl-C, SIGTERM): the first drains, the next cancels, the one after stops
    /// waiting to store.
    package func interrupt() { handle(.interrupt) }

    /// A cancel asked through an API: drains, as a first signal does.
    package func cancel() { handle(.cancel) }

    /// Feeds `event` to the run's stop machine; its actions go to the run.
    package func handle(_ event: RunStopStateMachine.Event) {
        let actions = stop.withLock { $0.handle(event) }
        guard !actions.isEmpty else { return }
        continuation.yield(actions)
        if actions.contains(.endHelpers) { continuation.finish() }
    }

    /// What the run is told to do, in order; ends once the work ended.
    package var actions: AsyncStream<RunStopStateMachine.Actions> { stream }

    /// The machine's state now (its phase, cause and interrupts).
    package var state: RunStopStateMachine { stop.withLock { $0 } }
}
