import ArgumentParser
import Foundation
import PacerCore
import PacerJobs
import PacerMetrics
import PacerOpenAI
import PacerPostgres

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

    /// Runs the worker; returns its exit status: 0 when the batch is done (nothing pending nor
    /// held by another worker) and its results are stored, 1 when the server asked for a wait
    /// longer than `--max-wait` (the unfinished chunks go back), 130 interrupted, 2 when the
    /// batch or the database cannot be used (or the batch was dropped while the worker ran).
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
            quiet: options.quiet,
            // A chunk is trusted to be the worker's for half of --reap-after after the database
            // last said so (see ChunkHolds).
            ledger: ChunkLedger(trustFor: timing.reapAfter / 2)
        )
        return try await DatabaseErrors.readable(url) {
            try await prepare(context)
            return try await work(context, metrics: metrics, quota: quota)
        }
    }

    /// Creates the tables if needed, checks the batch (and learns which push of it this worker
    /// serves), reopens failures with `--retry-failed`, and registers the worker.
    private func prepare(_ context: WorkerContext) async throws {
        let queue = context.queue
        try await context.retrying("create the queue's tables", mayTakeLong: true) { try await queue.prepareSchema() }
        let info = try await context.retrying("find the batch") { try await queue.info() }
        if info == nil, !follow {
            throw InputError(
                file: url.description,
                message: "no batch '\(batch)' here; push one first (pacer queue push FILE --db URL --batch \(batch)), "
                    + "or start the worker with --follow to wait for one"
            )
        }
        context.ledger.check(generation: info?.generation)
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
        try await context.heartbeat(what: "register the worker")
        if !options.quiet {
            Console.error(
                "worker \(context.worker.host) pid \(context.worker.pid) on batch '\(batch)' in \(url)"
                    + (follow ? " (following: waits for more work)" : "")
            )
        }
    }

    /// Runs the worker's tasks (see ``WorkerRun``), reports, and chooses the exit status.
    private func work(
        _ context: WorkerContext,
        metrics: RunMetrics?,
        quota: (any QuotaProtocol<ContinuousClock>)?
    ) async throws -> ExitCode {
        // The runner's quota is made here when there is no shared one, so that the feed sees
        // it stop (a wait longer than --max-wait) and ends its own wait for work.
        let quota =
            quota
            ?? Quota(
                limits: configuration.pacing ?? RateLimits(learnFromServer: false),
                retryBudget: configuration.retryBudget,
                clock: ContinuousClock()
            )
        let run = WorkerRun(
            context: context,
            runner: BatchRunner(
                configuration: configuration,
                random: options.seed.map(RandomSource.seeded) ?? .system,
                logger: Console.logger(quiet: options.quiet, verbose: options.verbose),
                quota: quota
            ),
            quota: quota,
            operation: operation,
            counters: counters,
            metrics: metrics,
            progress: options.quiet ? nil : ProgressReporter(total: nil, showTokens: true),
            grace: options.grace,
            follow: follow
        )
        let ending = try await run.run()
        let ledger = context.ledger
        let report = WorkerReport(
            batch: ending.summary,
            resultsStored: ledger.stored,
            resultsAlreadyStored: ledger.alreadyStored,
            resultsNotStored: ledger.unsaved,
            chunksClaimed: ledger.claimedChunks,
            chunksGivenBack: ending.givenBack,
            chunksLost: ledger.losses.chunks,
            resultsRefused: ledger.losses.results,
            itemsDropped: ledger.losses.unsent,
            databaseRoundTrips: context.queue.database.roundTrips
        )
        let interrupted = run.interrupted.count > 0
        show(report)
        if let path = options.summaryJSON { try report.write(to: path) }
        // A drop found by the last store, after the feed had ended, ends the worker the same way.
        let replaced = ledger.isReplaced ? QueueError.batchReplaced(batch) : nil
        let exit = WorkerExit(
            interrupted: interrupted,
            claimError: ending.claimError ?? replaced,
            resumeAfterSeconds: ending.summary.resumeAfterSeconds
        )
        for line in exit.messages(givenBack: ending.givenBack, now: Date()) { Console.error(line) }
        return ExitCode(exit.status)
    }

    private func show(_ report: WorkerReport) {
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
        if report.chunksLost > 0 {
            Console.error(
                "warning: \(report.chunksLost == 1 ? "1 chunk" : "\(report.chunksLost) chunks") went back to the batch "
                    + "while this worker was silent for longer "
                    + "than --reap-after: \(report.resultsRefused) of their results were not stored and "
                    + "\(report.itemsDropped) of their items were not sent (the workers that hold them now do them)."
            )
        }
    }
}
