import ArgumentParser
import Foundation
import PacerCore
import PacerJobs
import PacerMetrics
import PacerOpenAI
import PacerPostgres
import UnixSignals

/// One `pacer worker` run: register, claim chunks of the batch, run their items through the
/// same engine and client as `pacer batch`, store each result as the line a file run writes,
/// heartbeat and reap, stop cleanly on Ctrl-C, and report.
struct WorkerJob: Sendable {
    let options: RunOptions
    let configuration: BatchConfiguration
    let operation: APIClient
    let url: DatabaseURL
    let batch: String
    let timing: WorkerTiming
    /// Keep looking for work when there is none, instead of ending.
    let follow: Bool
    /// The run's live counters (done, failed, in flight, retries, tokens): the progress line
    /// reads them, and so does the metrics endpoint (`--metrics-port`).
    var counters = BatchProgress()

    /// How one of the worker's concurrent tasks ended.
    private enum TaskEnd: Sendable {
        /// The runner ended, with its summary.
        case summary(BatchSummary)
        /// Every result that could be stored is, and the unfinished chunks are given back
        /// (`nil` when that was abandoned).
        case flushed(givenBack: Int?)
        /// A helper (heartbeat, progress, signals) ended.
        case ended
    }

    /// Runs the worker; returns its exit status: 0 when nothing is left to claim and its
    /// results are stored, 130 interrupted, 2 when the batch or the database cannot be used.
    ///
    /// The worker paces against a shared quota: the one `--quota` (or `PACER_QUOTA_URL`)
    /// names, else quota `default` in the queue's database, so that the workers of a batch
    /// keep to one limit together without being told (`--quota off`: each on its own). With
    /// `--metrics-port` it serves its metrics while it runs.
    func run() async throws -> ExitCode {
        try await options.metrics.serving(
            progress: counters,
            concurrency: configuration.maxConcurrent,
            quiet: options.quiet
        ) { metrics in
            // The default quota shares the queue's connections: a worker holds a few
            // connections, not two pools' worth.
            try await QueueDatabase.withDatabase(url, maximumConnections: 6) { database in
                try await SharedQuotaOption.with(
                    options,
                    configuration: configuration,
                    fallback: (database, "default")
                ) { quota in
                    try await run(database, metrics: metrics, quota: quota)
                }
            }
        }
    }

    /// The run on `database`, feeding `metrics` when they are served, against `quota`
    /// (`nil`: one of its own).
    private func run(
        _ database: QueueDatabase,
        metrics: RunMetrics?,
        quota: (any QuotaProtocol<ContinuousClock>)?
    ) async throws -> ExitCode {
        let context = WorkerContext(
            queue: BatchQueue(database: database, batch: batch),
            worker: .current(),
            timing: timing,
            outages: OutageReporter(quiet: options.quiet),
            quiet: options.quiet
        )
        return try await DatabaseErrors.readable(url) {
            try await prepare(context)
            return try await work(context, metrics: metrics, quota: quota)
        }
    }

    /// Creates the tables if needed, checks the batch, reopens failures with `--retry-failed`,
    /// and registers the worker.
    private func prepare(_ context: WorkerContext) async throws {
        let queue = context.queue
        try await context.retrying("create the queue's tables", mayTakeLong: true) { try await queue.prepareSchema() }
        if try await context.retrying("find the batch", { try await queue.info() }) == nil, !follow {
            throw InputError(
                file: url.description,
                message: "no batch '\(batch)' here; push one first (pacer queue push FILE --db URL --batch \(batch)), "
                    + "or start the worker with --follow to wait for one"
            )
        }
        if options.retryFailed {
            let reopened = try await context.retrying("reopen failed items", mayTakeLong: true) {
                try await queue.reopenFailures()
            }
            if !options.quiet {
                Console.error(
                    "--retry-failed: \(reopened.items) failed items (in \(reopened.chunks) chunks) are claimable again"
                )
            }
        }
        try await context.retrying("register the worker") { _ = try await queue.heartbeat(context.worker) }
        if !options.quiet {
            Console.error(
                "worker \(context.worker.host) pid \(context.worker.pid) on batch '\(batch)' in \(url)"
                    + (follow ? " (following: waits for more work)" : "")
            )
        }
    }

    private func work(
        _ context: WorkerContext,
        metrics: RunMetrics?,
        quota: (any QuotaProtocol<ContinuousClock>)?
    ) async throws -> ExitCode {
        let ledger = ChunkLedger()
        // Ctrl-C: stop claiming; after the grace period (or a second Ctrl-C) cancel the
        // requests in flight; on a second Ctrl-C also stop waiting for the database.
        let stopping = Latch()
        let cancelRequests = Latch()
        let abandon = Latch()
        let interrupted = Tally()
        let flusher = ResultFlusher(context: context, ledger: ledger)
        let wake = Bell()
        let feed = ClaimFeed(context: context, ledger: ledger, stopping: stopping, follow: follow, wake: wake)
        let runner = BatchRunner(
            configuration: configuration,
            random: options.seed.map(RandomSource.seeded) ?? .system,
            logger: Console.logger(quiet: options.quiet, verbose: options.verbose),
            quota: quota
        )
        let control = BatchControl()
        let (operation, counters, grace) = (self.operation, self.counters, options.grace)
        let progress = options.quiet ? nil : ProgressReporter(total: nil, showTokens: true)
        var givenBack: Int?
        let summary: BatchSummary = try await withThrowingTaskGroup(of: TaskEnd.self) { group in
            group.addTask {
                let summary = try await cancelling(when: cancelRequests) {
                    do {
                        return try await runner.run(feed, operation: operation, control: control, progress: counters) {
                            item,
                            result in
                            metrics?.record(result)
                            // An item stopped before it was done is not stored: its chunk goes back.
                            guard result.error?.kind != .cancelled else { return }
                            let waiting = ledger.add(
                                seq: Int64(item.index),
                                success: result.isSuccess,
                                line: BatchAPILine(result).jsonLine,
                                attempts: result.attempts
                            )
                            flusher.added(waiting: waiting)
                        }
                    } catch let stopped as BatchStopped {
                        var summary = stopped.summary
                        if !(stopped.cause is CancellationError) {
                            Console.error("error: cannot claim work: \(DatabaseFailure.describe(stopped.cause))")
                            summary.inputFailed = true
                        }
                        return summary
                    }
                }
                flusher.feedingDone()
                return .summary(summary)
            }
            group.addTask {
                do {
                    return try await cancelling(when: abandon) {
                        try await flusher.run()
                        let back = try await context.retrying("give back unfinished chunks") {
                            try await context.queue.giveBack(context.worker)
                        }
                        return .flushed(givenBack: back)
                    }
                } catch is CancellationError {
                    return .flushed(givenBack: nil)
                }
            }
            group.addTask {
                while (try? await Task.sleep(for: context.timing.heartbeat)) != nil {
                    do {
                        try await context.heartbeat()
                    } catch is CancellationError {
                        break
                    } catch {
                        Console.error("warning: heartbeat: \(DatabaseFailure.describe(error))")
                    }
                }
                return .ended
            }
            if let progress {
                group.addTask {
                    await progress.run(counters)
                    return .ended
                }
            }
            if follow {
                // Pushes and given-back chunks wake the feed at once (it polls besides).
                group.addTask {
                    try? await context.queue.listenForWork { wake.ring() }
                    return .ended
                }
            }
            let graceStarted = Latch()
            group.addTask {
                for await _ in await UnixSignalsSequence(trapping: .sigint, .sigterm) {
                    interrupted.add()
                    if interrupted.count == 1 {
                        stopping.open()
                        wake.ring()
                        control.stopAdmitting()
                        Console.error(
                            "\nstopping: claiming no more work; waiting up to \(SummaryText.format(grace, digits: 0)) s "
                                + "for requests in flight (Ctrl-C again to stop now). Their results are stored, and "
                                + "the chunks not done go back to the batch."
                        )
                        graceStarted.open()
                    } else {
                        Console.error("stopping now: requests in flight are cancelled; unstored results are lost.")
                        cancelRequests.open()
                        abandon.open()
                        break
                    }
                }
                return .ended
            }
            group.addTask {
                await graceStarted.wait()
                if !Task.isCancelled, (try? await Task.sleep(for: .pacerSeconds(grace))) != nil {
                    cancelRequests.open()
                }
                return .ended
            }
            var summary: BatchSummary?
            var flushed = false
            while let ended = try await group.next() {
                switch ended {
                case .summary(let result): summary = result
                case .flushed(let back):
                    flushed = true
                    givenBack = back
                case .ended: break
                }
                // The work is over: stop heartbeating, drawing progress and watching signals.
                if summary != nil, flushed { group.cancelAll() }
            }
            guard let summary else { throw CancellationError() }
            return summary
        }
        let report = WorkerReport(
            batch: summary,
            resultsStored: ledger.stored,
            resultsAlreadyStored: ledger.alreadyStored,
            resultsNotStored: ledger.unsaved,
            chunksClaimed: ledger.claimedChunks,
            chunksGivenBack: givenBack,
            databaseRoundTrips: context.queue.database.roundTrips
        )
        show(report, interrupted: interrupted.count > 0)
        if let path = options.summaryJSON { try report.write(to: path) }
        if interrupted.count > 0 { return ExitCode(130) }
        return summary.inputFailed ? ExitCode(2) : .success
    }

    private func show(_ report: WorkerReport, interrupted: Bool) {
        if !options.quiet {
            for line in SummaryText.lines(
                report.batch,
                unit: "requests",
                concurrency: options.concurrency,
                showTokens: true
            ) {
                Console.error(line)
            }
            Console.error(
                "Queue: \(report.resultsStored) results stored"
                    + (report.resultsAlreadyStored > 0
                        ? " (\(report.resultsAlreadyStored) more were stored first by a worker thought dead)" : "")
                    + " from \(report.chunksClaimed) chunks"
                    + (report.chunksGivenBack.map { $0 > 0 ? "; \($0) chunks given back" : "" } ?? "")
                    + "; \(report.databaseRoundTrips) database round trips"
                    + " (\(SummaryText.format(report.roundTripsPerItem, digits: 3)) per item)"
            )
        }
        if report.resultsNotStored > 0 {
            Console.error(
                "warning: \(report.resultsNotStored) results were not stored (the database was out of reach when "
                    + "the worker stopped); their chunks go back to the batch when the reaper finds this worker gone."
            )
        }
        if interrupted {
            Console.error("interrupted: run pacer worker again (here or elsewhere) to go on with the batch.")
        }
    }
}
