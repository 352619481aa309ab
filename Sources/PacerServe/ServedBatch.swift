import Foundation
import Logging
import PacerCore
import PacerJobs
import Synchronization

/// What a batch needs from its server beside its own record, store and logger: the files,
/// and who sends it.
struct BatchContext: Sendable {
    /// The uploaded files, where a finished batch's output and errors become files too.
    var files: FileStore
    /// The server itself against an upstream, or workers draining a queue.
    var backend: BatchBackend
    /// How long a batch whose run stopped early (a failed write, an upstream that asked for a
    /// longer wait than `--max-wait`) waits before it runs again, unless the upstream said.
    var retryAfter: Duration = .seconds(30)
}

/// One batch that `pacer serve` runs: the shell of ``ServedBatchStateMachine``. Events (a
/// cancel from a client, the window passing, the end of its own work) go through
/// ``handle(_:update:)``, which saves the record and carries out what the machine says: a stop
/// at once, longer work (validate, run, write the files) through ``drive(_:)``, which runs for
/// the batch's life in the server's batch service.
final class ServedBatch: Sendable {
    typealias Event = ServedBatchStateMachine.Event
    typealias Action = ServedBatchStateMachine.Action

    /// `batch_…`.
    let id: String
    /// Its folder in the data folder.
    let folder: URL
    private let store: BatchStore
    let logger: Logger
    private let state: Mutex<State>
    private let work: AsyncStream<Action>
    private let workContinuation: AsyncStream<Action>.Continuation

    private struct State {
        var record: BatchRecord
        /// The run under way (or the last one), and the counts its output held when it started.
        var run: Run?
        /// With workers: the counts the queue held when last asked.
        var queueCounts: (completed: Int, failed: Int)?
        /// The machine said stop the run (a cancel, the window): a run starting now stops at once.
        var stopRequested = false
        /// The server is stopping: the batch's work ends where it is, and a restart goes on.
        var shuttingDown = false
    }

    private struct Run {
        var handle: RunHandle
        var progress: BatchProgress
        var completedBefore: Int
        var failedBefore: Int
    }

    /// A batch from its record (just created, or found in the data folder).
    init(record: BatchRecord, store: BatchStore, logger: Logger) {
        id = record.id
        folder = store.folder(of: record.id)
        self.store = store
        var logger = logger
        logger[metadataKey: "batch"] = "\(record.id)"
        self.logger = logger
        state = Mutex(State(record: record))
        (work, workContinuation) = AsyncStream.makeStream(of: Action.self)
        if record.machine.status.isFinal { workContinuation.finish() }
    }

    /// The record as it is now.
    var record: BatchRecord { state.withLock { $0.record } }

    /// Whether the server is stopping.
    var isShuttingDown: Bool { state.withLock { $0.shuttingDown } }

    /// The batch as the API returns it, with its request counts now: the files' lines once
    /// they are written, else what its output held before this run plus this run's results.
    var object: BatchObject {
        state.withLock { state in
            let record = state.record
            let total = record.total ?? 0
            if let completed = record.completed, let failed = record.failed {
                return BatchObject(record: record, counts: (total, completed, failed))
            }
            if let counts = state.queueCounts {
                return BatchObject(record: record, counts: (total, counts.completed, counts.failed))
            }
            guard let run = state.run else { return BatchObject(record: record, counts: (total, 0, 0)) }
            let now = run.progress.snapshot
            return BatchObject(
                record: record,
                counts: (total, run.completedBefore + now.succeeded, run.failedBefore + now.failed)
            )
        }
    }

    /// Feeds `event` to the machine (after `update` changes the record), saves the record, and
    /// carries out what the machine says; returns it (a ``ServedBatchStateMachine/Action/refuse(_:)``
    /// is the caller's to answer).
    @discardableResult
    func handle(_ event: Event, update: (inout BatchRecord) -> Void = { _ in }) -> Action {
        let now = Int(Date().timeIntervalSince1970)
        let (action, runHandle, isFinal) = state.withLock { state in
            update(&state.record)
            let action = state.record.machine.handle(event, now: now)
            if action == .stopRun { state.stopRequested = true }
            do {
                // Saved under the lock: records are written in the order they change.
                try store.save(state.record)
            } catch {
                logger.error("could not save the batch's record (kept in memory; saved with its next change): \(error)")
            }
            return (action, state.run?.handle, state.record.machine.status.isFinal)
        }
        switch action {
        case .validate, .run, .writeFiles: workContinuation.yield(action)
        case .stopRun: runHandle?.cancel()
        case .none, .refuse: break
        }
        if isFinal {
            workContinuation.finish()
            // A batch over holds on to nothing: its files are the store's (or it has none).
            removeWorkFiles()
        }
        return action
    }

    /// A new batch: validate it.
    func begin() {
        workContinuation.yield(.validate)
    }

    /// Changes the record and saves it, with no event for the machine.
    func update(_ change: (inout BatchRecord) -> Void) {
        state.withLock { state in
            change(&state.record)
            do {
                try store.save(state.record)
            } catch {
                logger.error("could not save the batch's record (kept in memory; saved with its next change): \(error)")
            }
        }
    }

    /// The server is stopping: the run drains (its requests in flight finish within the grace)
    /// and the batch stays where it is, for the next start to go on from.
    func shutDown() {
        let handle = state.withLock { state in
            state.shuttingDown = true
            return state.run?.handle
        }
        handle?.interrupt()
        workContinuation.finish()
    }

    /// Carries out the batch's work, one action at a time, until it is over or the server
    /// stops; meanwhile, feeds ``ServedBatchStateMachine/Event/windowPassed`` when its window ends.
    func drive(_ context: BatchContext) async {
        let expiresAt = record.expiresAt
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                let wait = Double(expiresAt) - Date().timeIntervalSince1970
                if wait > 0 { try? await Task.sleep(for: .seconds(wait)) }
                guard !Task.isCancelled else { return }
                self.handle(.windowPassed)
            }
            for await action in work {
                guard !isShuttingDown else { break }
                switch action {
                case .validate: await validate()
                case .run: await run(context)
                case .writeFiles: await writeFiles(context)
                case .none, .stopRun, .refuse: break
                }
            }
            group.cancelAll()
        }
    }

    /// Starts a run: it stops at once if the machine already said stop, or the server is stopping.
    func startRun(_ handle: RunHandle, progress: BatchProgress, journal: Journal) {
        let (stop, shuttingDown) = state.withLock { state in
            state.run = Run(
                handle: handle,
                progress: progress,
                completedBefore: journal.doneCount - journal.failures,
                failedBefore: journal.failures
            )
            return (state.stopRequested, state.shuttingDown)
        }
        if shuttingDown {
            handle.interrupt()
        } else if stop {
            handle.cancel()
        }
    }

    /// Tokens and estimated cost of the run under way (or the last one), from its counters;
    /// none with workers, which count their own.
    var liveUsage: (tokens: Int?, costUSD: Double?) {
        state.withLock { state in
            guard let run = state.run else { return (nil, nil) }
            let snapshot = run.progress.snapshot
            return (snapshot.tokens, snapshot.costUSD)
        }
    }

    /// Keeps the counts the queue holds, for ``object``.
    func setQueueCounts(completed: Int, failed: Int) {
        state.withLock { $0.queueCounts = (completed, failed) }
    }

    /// Whether the machine said stop the run.
    var stopRequested: Bool { state.withLock { $0.stopRequested } }

    /// Waits up to `duration`, less if the run is told to stop or the server stops; returns
    /// whether the server is still running.
    func pause(_ duration: Duration) async -> Bool {
        let end = ContinuousClock.now + duration
        while ContinuousClock.now < end {
            if stopRequested || isShuttingDown { break }
            try? await Task.sleep(for: min(.milliseconds(500), end - ContinuousClock.now))
        }
        return !isShuttingDown
    }
}
