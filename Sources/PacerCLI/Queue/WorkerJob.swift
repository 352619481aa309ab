import ArgumentParser
import Foundation
import PacerCore
import PacerJobs
import PacerMetrics
import PacerOpenAI
import PacerPostgres

/// One `pacer worker` run: maps the options to the library's ``WorkerRun``, opens the database
/// and the shared quota, watches signals, draws progress, prints the notes and the report,
/// and picks the exit status.
struct WorkerJob: Sendable {
    let options: RunOptions
    let configuration: BatchConfiguration
    let operation: APISender
    let url: DatabaseURL
    var batch: String
    let timing: WorkerTiming
    /// Keep looking for work when there is none, instead of ending.
    var follow: Bool
    /// With `--routes`: the engine's quota, which paces nothing (each deployment paces in
    /// its own, shared as the run's quota is: one row per deployment).
    var routes: RoutedRun? = nil
    /// The run's live counters (done, failed, in flight, retries, tokens): the progress line
    /// reads them, and so does the metrics endpoint (`--metrics-port`).
    var counters = BatchProgress()

    /// Runs the worker; returns its exit status (see ``WorkerExit``).
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
            if let routes, let metrics { metrics.watchDeployments(routes.tallies) }
            // The default quota shares the queue's connections: a worker holds a few
            // connections, not two pools' worth.
            return try await QueueDatabase.withDatabase(url, maximumConnections: 6) { database in
                if let routes {
                    return try await routes.sharing(options, fallback: (database, "default")) { quota in
                        let report = try await DatabaseErrors.readable(url) {
                            try await run(database, metrics: metrics, quota: quota)
                        }
                        return try finish(report)
                    }
                }
                return try await SharedQuotaOption.with(
                    options,
                    configuration: configuration,
                    fallback: (database, "default")
                ) { quota in
                    let report = try await DatabaseErrors.readable(url) {
                        try await run(database, metrics: metrics, quota: quota)
                    }
                    return try finish(report)
                }
            }
        }
    }

    /// The library's run of these options on `database`, recording into `metrics` when they
    /// are served, against `quota` (`nil`: one of its own).
    private func run(
        _ database: QueueDatabase,
        metrics: RunMetrics?,
        quota: (any QuotaProtocol<ContinuousClock>)?
    ) async throws -> WorkerReport {
        var settings = WorkerRun.Settings(batch: batch, run: options.runSettings(configuration))
        settings.timing = timing
        settings.follow = follow
        settings.retryFailed = options.retryFailed
        var run = WorkerRun(settings: settings, operation: operation)
        if let metrics { run.observe = { metrics.record($0) } }
        let worker = run
        let handle = RunHandle()
        let progress = options.quiet ? nil : ProgressReporter(total: nil, showTokens: true)
        let (quiet, verbose, url) = (options.quiet, options.verbose, url)
        return try await RunConsole.watching(handle, progress: progress, counters: counters) { [counters] in
            try await worker.run(on: database, quota: quota, progress: counters, handle: handle) { note in
                if case .registered = note, !quiet {
                    Console.error(
                        (RunConsole.text(note, kind: .worker, quiet: quiet, verbose: verbose) ?? "") + " in \(url)"
                    )
                } else {
                    RunConsole.print(note, kind: .worker, quiet: quiet, verbose: verbose)
                }
            }
        }
    }

    /// Prints the report, writes `--summary-json`, and chooses the exit status.
    private func finish(_ report: WorkerReport) throws -> ExitCode {
        var report = report
        report.batch.deployments = routes?.tallies()
        show(report)
        if let path = options.summaryJSON { try report.write(to: path) }
        let exit = WorkerExit(
            interrupted: report.stop == .interrupted,
            claimError: report.claimError,
            resumeAfterSeconds: report.batch.resumeAfterSeconds
        )
        for line in exit.messages(givenBack: report.chunksGivenBack, now: Date()) { Console.error(line) }
        return ExitCode(exit.status)
    }

    private func show(_ report: WorkerReport) {
        if !options.quiet {
            for line in SummaryText.lines(
                report.batch,
                unit: "requests",
                concurrency: configuration.maxConcurrent,
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
