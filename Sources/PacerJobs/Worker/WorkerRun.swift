import Logging
import PacerCore
import PacerOpenAI
import PacerPostgres

/// One worker's run on a batch in PostgreSQL as a library call, as ``FileRun`` is for a file:
/// register, claim chunks of the batch, run their items through the same engine and client as
/// a file run, store each result as the line a file run writes, heartbeat and reap, stop
/// through the same `RunStopStateMachine` shell (``underStop(_:grace:onStop:_:)``), and report. No
/// argument parsing, no printing, no exit.
///
/// ```swift
/// let run = WorkerRun(settings: .init(batch: "nightly", run: RunSettings(engine: configuration)), operation: client)
/// let report = try await run.run(on: database, quota: nil, progress: BatchProgress(), handle: RunHandle()) { note in … }
/// ```
package struct WorkerRun: Sendable {
    /// Which batch, how to drain it, and how to run its items.
    package struct Settings: Sendable {
        /// The batch's name.
        package var batch: String
        /// Heartbeats, the reaper's threshold, polling and storing.
        package var timing = WorkerTiming()
        /// Keep looking for work when there is none, instead of ending.
        package var follow = false
        /// Make the batch's failed items claimable again first.
        package var retryFailed = false
        /// How the items are sent: the engine, the grace, the seed, the logger.
        package var run: RunSettings

        /// Settings for draining `batch`, sending its items as `run` says.
        package init(batch: String, run: RunSettings) {
            self.batch = batch
            self.run = run
        }
    }

    /// Which batch and how.
    package var settings: Settings
    /// Sends each item.
    package var operation: APISender
    /// Told of each item's result (a metrics recorder, say).
    package var observe: (@Sendable (ItemResult<APIResponse>) -> Void)?

    /// A worker on `settings`' batch, sending with `operation`.
    package init(settings: Settings, operation: APISender) {
        self.settings = settings
        self.operation = operation
    }

    /// Drains the batch on `database` against `quota` (`nil`: one of its own), updating
    /// `counters`, stopping as `handle` is told; says what happens along the way to `notes`.
    ///
    /// - Returns: The report; a stop (a signal, a cancel, the batch dropped, a long wait the
    ///   server asked for) is in it, not thrown.
    /// - Throws: ``InputError`` when there is no such batch (without ``Settings/follow``), or a
    ///   database error that is not an outage.
    package func run(
        on database: QueueDatabase,
        quota: (any QuotaProtocol<ContinuousClock>)?,
        progress counters: BatchProgress,
        handle: RunHandle,
        notes: @escaping @Sendable (RunNote) -> Void
    ) async throws -> WorkerReport {
        let context = WorkerContext(
            queue: BatchQueue(database: database, batch: settings.batch),
            worker: .current(),
            timing: settings.timing,
            outages: OutageReporter(notes: notes, handle: handle),
            notes: notes,
            handle: handle,
            // A chunk is trusted to be the worker's for half of --reap-after after the database
            // last said so (see ChunkHolds).
            ledger: ChunkLedger(trustFor: settings.timing.reapAfter / 2)
        )
        // The runner's quota is made here when there is no shared one, so that the feed sees
        // it stop (a wait longer than --max-wait) and ends its own wait for work.
        let quota =
            quota
            ?? Quota(
                limits: settings.run.engine.pacing ?? RateLimits(learnFromServer: false),
                retryBudget: settings.run.engine.retryBudget,
                clock: ContinuousClock()
            )
        let tasks = WorkerTasks(
            context: context,
            runner: settings.run.runner(quota: quota),
            quota: quota,
            operation: operation,
            counters: counters,
            observe: observe,
            follow: settings.follow
        )
        let grace = settings.run.grace
        let ending = try await underStop(handle, grace: grace) { actions in
            if actions.contains(.stopAdmitting) { tasks.stopAdmitting() }
            if actions.contains(.startGrace) { notes(.stopping(grace: grace)) }
            if actions.contains(.cancelInFlight), handle.state.cause == .interrupted { notes(.cancelling) }
            if actions.contains(.abandonStoring), handle.state.cause == .interrupted { notes(.abandonedStoring) }
        } _: { latches in
            // A database out of reach at the start is waited for until the second signal.
            do {
                try await cancelling(when: latches.cancelInFlight) { try await prepare(context) }
            } catch is CancellationError where handle.state.stoppedEarly {
                return WorkerTasks.Ending(summary: SummaryBuilder().summary(wallTime: .zero), givenBack: 0)
            }
            return try await tasks.run(latches)
        }
        return report(ending, context: context, stop: handle.state.cause)
    }

    /// Creates the tables if needed, checks the batch (and learns which push of it this worker
    /// serves), reopens failures with ``Settings/retryFailed``, and registers the worker.
    private func prepare(_ context: WorkerContext) async throws {
        let queue = context.queue
        try await context.retrying("create the queue's tables", mayTakeLong: true) { try await queue.prepareSchema() }
        let info = try await context.retrying("find the batch") { try await queue.info() }
        if info == nil, !settings.follow {
            throw InputError(
                file: "\(queue.database.url)",
                message: "no batch '\(settings.batch)' here; push one first "
                    + "(pacer queue push FILE --db URL --batch \(settings.batch)), "
                    + "or start the worker with --follow to wait for one"
            )
        }
        context.ledger.check(generation: info?.generation)
        if settings.retryFailed {
            let reopened = try await context.retrying("reopen failed items", mayTakeLong: true) {
                try await queue.reopenFailures()
            }
            context.notes(.reopened(items: reopened.items, chunks: reopened.chunks))
        }
        try await context.heartbeat(what: "register the worker")
        let worker = context.worker
        context.notes(.registered(host: worker.host, pid: worker.pid, batch: settings.batch, follow: settings.follow))
    }

    /// What the worker did, from how its tasks ended and its ledger.
    private func report(
        _ ending: WorkerTasks.Ending,
        context: WorkerContext,
        stop: RunStopStateMachine.Cause?
    ) -> WorkerReport {
        let ledger = context.ledger
        // A drop found by the last store, after the feed had ended, ends the worker the same way.
        let replaced = ledger.isReplaced ? QueueError.batchReplaced(settings.batch) : nil
        return WorkerReport(
            batch: ending.summary,
            resultsStored: ledger.stored,
            resultsAlreadyStored: ledger.alreadyStored,
            resultsNotStored: ledger.unsaved,
            chunksClaimed: ledger.claimedChunks,
            chunksGivenBack: ending.givenBack,
            chunksLost: ledger.losses.chunks,
            resultsRefused: ledger.losses.results,
            itemsDropped: ledger.losses.unsent,
            databaseRoundTrips: context.queue.database.roundTrips,
            stop: stop,
            claimError: ending.claimError ?? replaced
        )
    }
}
