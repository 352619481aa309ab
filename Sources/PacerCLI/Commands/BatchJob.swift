import ArgumentParser
import Foundation
import PacerCore
import PacerJobs
import PacerMetrics
import PacerOpenAI
import UnixSignals

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

    /// How one of the job's concurrent tasks ended.
    private enum TaskEnd: Sendable {
        /// The batch ended, with its summary.
        case summary(BatchSummary)
        /// A second signal, or the end of the grace period: cancel what is still running.
        case cancelNow
        /// The progress display or a signal watcher ended; nothing to do.
        case progressEnded, watchEnded
    }

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
            // The input is checked before the shared quota's database is waited for.
            let items = try await checkInput()
            return try await SharedQuotaOption.with(options, configuration: configuration) { quota in
                try await run(items: items, counters: counters, metrics: metrics, quota: quota)
            }
        }
    }

    /// Checks the whole input file before spending anything on it (or creating the output);
    /// returns its items (`nil` for stdin, which is read as it goes). It runs before the
    /// journal is read, so that its duplicate check and the journal's done ids are never in
    /// memory together.
    private func checkInput() async throws -> Int? {
        guard options.input != "-" else { return nil }
        let tolerate: (@Sendable (String, InputError) -> Void)? = options.skipInvalid ? { @Sendable _, _ in } : nil
        let check = try ItemSource(
            path: options.input,
            format: options.format,
            parser: parser,
            skip: { _ in false },
            onInvalid: tolerate
        )
        return try await check.count().items
    }

    /// The run itself over an input of `items` (when known), updating `counters` and, when
    /// served, `metrics`, against `quota` (`nil`: a quota of its own).
    private func run(
        items: Int?,
        counters: BatchProgress,
        metrics: RunMetrics?,
        quota: (any QuotaProtocol<ContinuousClock>)?
    ) async throws -> ExitCode {
        let logger = Console.logger(quiet: options.quiet, verbose: options.verbose)
        let output = options.output.flatMap { $0 == "-" ? nil : $0 }
        var journal = Journal()
        let errors = output == nil ? nil : errorsPath
        // Held until the run returns: no other run reads, repairs or writes these files meanwhile.
        let lock = try output.map { try OutputLock(paths: [$0] + (errors.map { [$0] } ?? [])) }
        defer { withExtendedLifetime(lock) {} }
        if let output {
            journal = try await Journal.open(
                paths: [output] + (errors.map { [$0] } ?? []),
                resume: options.resume,
                retryFailed: options.retryFailed
            )
        }
        if journal.repairedBytes > 0 {
            Console.error(
                "note: cut a torn last line (\(journal.repairedBytes) bytes) off \(output ?? "") \(errors.map { "or \($0) " } ?? "")"
                    + "left by an interrupted run"
            )
        }
        let done = journal
        let skip: @Sendable (String) -> Bool = { id in done.isDone(id) }
        // The items left to do (exact when the output holds only ids of this input, as a
        // rerun's does); it only sizes the progress line.
        let total = feed.unitsAreItems ? items.map { max(0, $0 - journal.doneCount) } : nil
        let writer = try OutputWriter(path: output)
        // Failures go to the errors file when there is one, else with the successes.
        let failureWriter = try errors.map { try OutputWriter(path: $0) } ?? writer
        let invalid = Tally()
        var onInvalid: (@Sendable (String, InputError) -> Void)?
        if options.skipInvalid {
            onInvalid = { [makeInvalidLine] id, error in
                invalid.add()
                metrics?.recordFailed(.invalidInput)
                // Written as this item's failure; a write error surfaces with the next line.
                try? failureWriter.write(makeInvalidLine(id, error))
            }
        }
        let source = try ItemSource(
            path: options.input,
            format: options.format,
            parser: parser,
            skip: skip,
            onInvalid: onInvalid
        )
        let costGuard = CostGuard(cap: costCap?.usd ?? .infinity)
        let window = options.ordered ? ReorderWindow(size: options.orderedWindow) : nil
        let maxCost = costCap?.maxCost
        let runner = BatchRunner(
            configuration: configuration,
            random: options.seed.map(RandomSource.seeded) ?? .system,
            logger: logger,
            quota: quota
        )
        let control = BatchControl()
        let interrupted = Tally()
        let grace = options.grace
        let progress = options.quiet ? nil : ProgressReporter(total: total, showTokens: showTokens)
        var summary = try await withThrowingTaskGroup(of: TaskEnd.self) { group in
            group.addTask {
                do {
                    let summary = try await runner.run(
                        OrderedUnits(
                            // The cap decides first: every unit the window numbers is sent.
                            base: CappedUnits(base: feed.units(from: source), costGuard: costGuard) {
                                maxCost?($0) ?? 0
                            },
                            window: window
                        ),
                        operation: operation,
                        control: control,
                        progress: counters,
                        caughtUp: {
                            try writer.flush()
                            try failureWriter.flush()
                        }
                    ) {
                        unit,
                        result in
                        if let maxCost {
                            costGuard.settle(
                                reserved: maxCost(unit.input),
                                cost: result.output?.costUSD,
                                billedFailures: result.attemptErrors.count(where: \.mayHaveBeenBilled)
                            )
                        }
                        let lines = feed.lines(for: unit, result: result)
                        if let metrics {
                            // The items the unit ends: its lines, or all it carries when it was not
                            // done (none when it is sent again in parts).
                            let notDone = lines.isEmpty && result.error?.kind == .cancelled
                            metrics.record(result, items: notDone ? feed.itemCount(of: unit) : lines.count)
                        }
                        for (line, success) in window?.finished(index: unit.index, lines: lines) ?? lines {
                            try (success ? writer : failureWriter).write(line, flush: false)
                        }
                    }
                    return .summary(summary)
                } catch let stopped as BatchStopped {
                    Console.error("error: \(stopped.cause)")
                    Console.error("stopped reading the input; the items that finished were written.")
                    var summary = stopped.summary
                    summary.inputFailed = true
                    return .summary(summary)
                }
            }
            if let progress {
                group.addTask {
                    await progress.run(counters)
                    return .progressEnded
                }
            }
            // Signals: the first stops admission and starts the grace period; the second, or
            // the end of the grace period, cancels what is still running.
            let (firstSignal, firstSignalContinuation) = AsyncStream.makeStream(of: Void.self)
            group.addTask {
                let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)
                for await _ in signals {
                    interrupted.add()
                    guard interrupted.count == 1 else { return .cancelNow }
                    control.stopAdmitting()
                    // Admission may be waiting for the next line of stdin: end the input here.
                    source.stopReading()
                    Console.error(
                        "\nstopping: no new requests; waiting up to \(SummaryText.format(grace, digits: 0)) s for those in flight "
                            + "(Ctrl-C again to stop now). Finished items are kept; a rerun does the rest."
                    )
                    firstSignalContinuation.yield()
                }
                return .watchEnded
            }
            group.addTask {
                for await _ in firstSignal {
                    do {
                        try await Task.sleep(for: .pacerSeconds(grace))
                        return .cancelNow
                    } catch {
                        return .watchEnded
                    }
                }
                return .watchEnded
            }
            var result: BatchSummary?
            while let ended = try await group.next() {
                switch ended {
                case .summary(let summary):
                    result = summary
                    // The batch is over: stop watching for signals and drawing progress.
                    firstSignalContinuation.finish()
                    group.cancelAll()
                case .cancelNow:
                    group.cancelAll()
                case .progressEnded, .watchEnded:
                    break
                }
            }
            guard let result else { throw CancellationError() }
            return result
        }
        for (line, success) in window?.drain() ?? [] {
            try (success ? writer : failureWriter).write(line, flush: false)
        }
        try writer.flush()
        try failureWriter.flush()
        if let output {
            let written = writer.linesWritten + (failureWriter === writer ? 0 : failureWriter.linesWritten)
            await compact(output, errors: errors, journal: journal, written: written)
        }
        feed.adjust(&summary)
        summary.skipped = source.skipped.count
        summary.failed += invalid.count
        summary.total += invalid.count
        if invalid.count > 0 {
            summary.failureReasons.append(
                FailureReason(kind: "invalid_input", message: "input lines that cannot be read", count: invalid.count)
            )
            summary.failureReasons.sort { $0.count > $1.count }
        }
        report(summary)
        if interrupted.count > 0 {
            // Items never sent are not cancelled ones: with a known total, say how many there are.
            let unsent = total.map { $0 - summary.succeeded - summary.failed + invalid.count - summary.cancelled } ?? 0
            Console.error(
                "interrupted: \(summary.cancelled) items not done"
                    + (unsent > 0 ? " (and \(unsent) not started)" : "")
                    + "; run the same command again to finish the batch."
            )
        }
        if let path = options.summaryJSON {
            try writeSummary(summary, to: path)
        }
        if interrupted.count > 0 { return ExitCode(130) }
        if let cap = costCap?.usd, costGuard.stoppedAdmission {
            Console.error(
                "stopped at --max-cost \(cap): this run spent about $\(SummaryText.format(costGuard.spent, digits: 4)) "
                    + "(every request sent has finished, retries counted); the next would have passed the cap. "
                    + "The cap is per run: the same command with --max-cost N spends up to N more on the rest; "
                    + "nothing done is redone."
            )
            return ExitCode(1)
        }
        if summary.inputFailed { return ExitCode(2) }
        return summary.allSucceeded ? .success : ExitCode(1)
    }

    /// After a `--retry-failed` run that redid failures, or any run that found lines such a
    /// run left uncompacted (it was killed first), rewrites the output with one line per id
    /// (see ``JournalCompaction``); with an errors file, rewrites that one instead, without
    /// the ids that now succeeded in the output, so that each id is in exactly one of the two.
    /// A failure here loses nothing: the files stay a valid journal, whose readers take the
    /// same line for each id.
    private func compact(_ output: String, errors: String?, journal: Journal, written: Int) async {
        let redone = options.retryFailed && journal.failures > 0 && written > 0
        guard redone || journal.superseded > 0 else { return }
        do {
            var dropped = 0
            if let errors {
                var succeeded = IDFingerprints()
                try await Journal.scan(path: output) { _, line in
                    if case .entry(let id, true) = line { succeeded.insert(id) }
                }
                dropped = try await JournalCompaction.compact(
                    path: errors,
                    lines: journal.failures + written,
                    supersededBy: succeeded
                )
            } else {
                dropped = try await JournalCompaction.compact(path: output, lines: journal.entries + written)
            }
            if dropped > 0, options.verbose {
                Console.error("note: \(errors ?? output): dropped \(dropped) failure lines that a retry superseded")
            }
        } catch {
            Console.error("warning: \(error)")
        }
    }

    private func report(_ summary: BatchSummary) {
        if !options.quiet {
            for line in SummaryText.lines(summary, unit: unit, concurrency: options.concurrency, showTokens: showTokens)
            {
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
