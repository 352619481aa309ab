import ArgumentParser
import Foundation
import PacerCore
import PacerJobs
import PacerMetrics
import PacerOpenAI

/// The common run of every batch command: check the input, continue the output file's
/// journal, run the batch, write a JSONL line per item as it finishes, stop cleanly on
/// Ctrl-C, print the summary, and choose the exit status.
struct BatchJob<Operation: BatchOperation, Feed: JobFeed>: Sendable
where Feed.Unit == Operation.Input, Feed.Output == Operation.Output {
    let options: RunOptions
    let configuration: BatchConfiguration
    let operation: Operation
    let parser: ItemParser<Feed.Input>
    /// What an item is called in the summary ("prompts", "URLs").
    let unit: String
    let showTokens: Bool
    /// How items become the runner's units, and units lines.
    let feed: Feed
    /// The line written for an input line that cannot be read, with `--skip-invalid`.
    var makeInvalidLine: @Sendable (String, InputError) -> any OutputRecord = { OutputLine.invalid(id: $0, error: $1) }
    /// Where failures are written, when not to the output: an OpenAI Batch API errors file,
    /// which the journal reads together with the output.
    var errorsPath: String? = nil
    /// `--max-cost`: the cap in USD, and the most a unit may cost.
    var costCap: (usd: Double, maxCost: @Sendable (Operation.Input) -> Double)? = nil
    /// `--dry-run`: what each input item may cost; the input is read and checked, the
    /// estimates printed, and nothing sent.
    var dryRunEstimate: (@Sendable (Feed.Input) -> CostEstimate)? = nil
    /// `--routes`: the engine's quota (each deployment paces in its own, inside the
    /// operation, shared through `--quota` when named), and what each deployment did, for
    /// the summary.
    var routes: RoutedRun? = nil

    /// Runs the batch; returns the exit status: 0 all succeeded, 1 some failed or were not
    /// done, 2 unusable input, 130 interrupted.
    ///
    /// - Throws: ``InputError`` for an unusable input or output (exit status 2).
    func run() async throws -> ExitCode {
        if let dryRunEstimate {
            return try await DryRun.run(options: options, parser: parser, estimate: dryRunEstimate)
        }
        let counters = BatchProgress()
        // With --metrics-port, served from before the input is checked until the summary is out.
        return try await options.metrics.serving(
            progress: counters,
            concurrency: configuration.maxConcurrent,
            quiet: options.quiet
        ) { metrics in
            if let routes, let metrics { metrics.watchDeployments(routes.tallies) }
            let fileRun = self.fileRun(metrics: metrics)
            // The input is checked before the shared quota's database is waited for.
            let items = try await fileRun.checkInput()
            let body: ((any QuotaProtocol<ContinuousClock>)?) async throws -> ExitCode = { quota in
                let prepared = try await fileRun.prepare(knownItems: items)
                if prepared.journal.repairedBytes > 0 {
                    Console.error(
                        "note: cut a torn last line (\(prepared.journal.repairedBytes) bytes) off "
                            + "\(prepared.output ?? "") \(prepared.errors.map { "or \($0) " } ?? "")left by an interrupted run"
                    )
                }
                let report = try await run(prepared, counters: counters, quota: quota)
                return try finish(report)
            }
            // With routes each deployment paces in its own quota, inside the operation.
            if let routes { return try await routes.sharing(options, body) }
            return try await SharedQuotaOption.with(options, configuration: configuration, body)
        }
    }

    /// The library's run of these options, recording into `metrics` when they are served.
    private func fileRun(metrics: RunMetrics?) -> FileRun<Operation, Feed> {
        var settings = FileRun<Operation, Feed>.Settings(input: options.input, run: options.runSettings(configuration))
        settings.format = options.format
        settings.output = options.output
        settings.errors = errorsPath
        settings.resume = options.resume
        settings.retryFailed = options.retryFailed
        settings.skipInvalid = options.skipInvalid
        settings.orderedWindow = options.ordered ? options.orderedWindow : nil
        var run = FileRun(settings: settings, operation: operation, parser: parser, feed: feed)
        run.makeInvalidLine = makeInvalidLine
        run.costCap = costCap
        if let metrics {
            run.observe = { result, items in metrics.record(result, items: items) }
            run.observeInvalid = { metrics.recordFailed(.invalidInput) }
        }
        return run
    }

    /// Runs `prepared` with the progress line drawn and signals watched: the first stops
    /// admission and starts the grace period; the second, or the end of the grace period,
    /// cancels what is still running.
    private func run(
        _ prepared: PreparedFileRun<Operation, Feed>,
        counters: BatchProgress,
        quota: (any QuotaProtocol<ContinuousClock>)?
    ) async throws -> FileRunReport {
        let handle = RunHandle()
        let progress = options.quiet ? nil : ProgressReporter(total: prepared.total, showTokens: showTokens)
        let (quiet, verbose) = (options.quiet, options.verbose)
        return try await RunConsole.watching(handle, progress: progress, counters: counters) {
            try await prepared.run(quota: quota, progress: counters, handle: handle) { note in
                RunConsole.print(note, kind: .file, quiet: quiet, verbose: verbose)
            }
        }
    }

    /// Prints the report and the summary, writes `--summary-json`, and chooses the exit status.
    private func finish(_ report: FileRunReport) throws -> ExitCode {
        var summary = report.summary
        summary.deployments = routes?.tallies()
        if let inputError = summary.inputError {
            Console.error("error: \(inputError)")
            Console.error("stopped reading the input; the items that finished were written.")
        }
        self.report(summary)
        if report.stop == .interrupted {
            let unsent = report.notStarted
            Console.error(
                "interrupted: \(summary.cancelled) items not done"
                    + (unsent > 0 ? " (and \(unsent) not started)" : "")
                    + "; run the same command again to finish the batch."
            )
        }
        if let path = options.summaryJSON {
            try writeSummary(summary, to: path)
        }
        if report.stop == .interrupted { return ExitCode(130) }
        if let (cap, spent) = report.costCap {
            Console.error(
                "stopped at --max-cost \(cap): this run spent about $\(SummaryText.format(spent, digits: 4)) "
                    + "(every request sent has finished, retries counted); the next would have passed the cap. "
                    + "The cap is per run: the same command with --max-cost N spends up to N more on the rest; "
                    + "nothing done is redone."
            )
            return ExitCode(1)
        }
        if summary.inputFailed { return ExitCode(2) }
        return summary.allSucceeded ? .success : ExitCode(1)
    }

    private func report(_ summary: BatchSummary) {
        if !options.quiet {
            for line in SummaryText.lines(
                summary,
                unit: unit,
                concurrency: configuration.maxConcurrent,
                showTokens: showTokens
            ) {
                Console.error(line)
            }
        }
        if let wait = summary.resumeAfterSeconds {
            let resume = Date().addingTimeInterval(wait)
            Console.error(
                "stopped: the server asked to wait \(Int(wait.rounded(.up))) s (more than --max-wait); it expects capacity again at "
                    + "\(resume.formatted(.iso8601)). \(summary.cancelled) items were not sent; rerun later to do them."
            )
        }
    }

    private func writeSummary(_ summary: BatchSummary, to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do {
            try encoder.encode(summary).write(to: URL(fileURLWithPath: path))
        } catch {
            throw InputError(file: path, message: "cannot write the summary: \(error.localizedDescription)")
        }
    }
}

extension BatchJob where Feed == OneToOneFeed<Operation.Input, Operation.Output> {
    /// A job that sends each item on its own and writes `makeLine`'s line for it.
    init(
        options: RunOptions,
        configuration: BatchConfiguration,
        operation: Operation,
        parser: ItemParser<Operation.Input>,
        unit: String,
        showTokens: Bool,
        makeLine: @escaping @Sendable (BatchItem<Operation.Input>, ItemResult<Operation.Output>) -> any OutputRecord
    ) {
        self.init(
            options: options,
            configuration: configuration,
            operation: operation,
            parser: parser,
            unit: unit,
            showTokens: showTokens,
            feed: OneToOneFeed(makeLine: makeLine)
        )
    }
}
