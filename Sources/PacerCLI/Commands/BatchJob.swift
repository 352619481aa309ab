import ArgumentParser
import Foundation
import PacerCore
import UnixSignals

/// The common run of `pacer chat` and `pacer fetch`: check the input, continue the output
/// file's journal, run the batch, write a JSONL line per item as it finishes, stop cleanly on
/// Ctrl-C, print the summary, and choose the exit status.
struct BatchJob<Operation: BatchOperation>: Sendable {
    let options: RunOptions
    let configuration: BatchConfiguration
    let operation: Operation
    let parser: ItemParser<Operation.Input>
    /// What an item is called in the summary ("prompts", "URLs").
    let unit: String
    let showTokens: Bool
    let makeLine: @Sendable (BatchItem<Operation.Input>, ItemResult<Operation.Output>) -> any Encodable

    /// How the batch ended.
    private enum Ending {
        case finished(BatchSummary, inputError: (any Error)?)
        case interrupted
    }

    /// Runs the batch; returns the exit status: 0 all succeeded, 1 some failed or were not
    /// done, 2 unusable input, 130 interrupted.
    ///
    /// - Throws: ``InputError`` for an unusable input or output (exit status 2).
    func run() async throws -> ExitCode {
        let logger = Console.logger(quiet: options.quiet, verbose: options.verbose)
        let output = options.output.flatMap { $0 == "-" ? nil : $0 }
        var journal = Journal()
        if let output { journal = try await Journal.open(path: output, resume: options.resume) }
        if journal.repairedBytes > 0 {
            Console.error("note: cut a torn last line (\(journal.repairedBytes) bytes) off \(output ?? ""), left by an interrupted run")
        }
        let retryFailed = options.retryFailed
        let done = journal
        let source = try ItemSource(path: options.input, format: options.format, parser: parser) { id in
            done.isDone(id, retryFailed: retryFailed)
        }
        if options.input != "-" {
            // Check the whole file before spending anything on it.
            _ = try await source.count()
        }
        let writer = try OutputWriter(path: output)
        let runner = BatchRunner(
            configuration: configuration,
            random: options.seed.map(RandomSource.seeded) ?? .system,
            logger: logger
        )
        let control = BatchControl()
        let interrupted = Tally()
        let grace = options.grace
        var summary = try await withThrowingTaskGroup(of: BatchSummary?.self) { group in
            group.addTask {
                do {
                    return try await runner.run(source, operation: operation, control: control) { item, result in
                        // An item stopped before it was done is not written: a rerun does it.
                        if result.error?.kind == .cancelled { return }
                        try writer.write(makeLine(item, result))
                    }
                } catch let stopped as BatchStopped {
                    Console.error("error: \(stopped.cause)")
                    Console.error("stopped reading the input; the items that finished were written.")
                    var summary = stopped.summary
                    summary.inputFailed = true
                    return summary
                }
            }
            // Signals: the first stops admission and starts the grace period; the second, or
            // the end of the grace period, ends its task, which cancels what is still running.
            let (firstSignal, firstSignalContinuation) = AsyncStream.makeStream(of: Void.self)
            group.addTask {
                let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)
                for await _ in signals {
                    interrupted.add()
                    guard interrupted.count == 1 else { return nil }
                    control.stopAdmitting()
                    Console.error(
                        "stopping: no new requests; waiting up to \(SummaryText.format(grace, digits: 0)) s for those in flight "
                            + "(Ctrl-C again to stop now). Finished items are kept; a rerun does the rest."
                    )
                    firstSignalContinuation.yield()
                }
                return nil
            }
            group.addTask {
                for await _ in firstSignal {
                    try? await Task.sleep(for: .pacerSeconds(grace))
                    return nil
                }
                return nil
            }
            // The batch is the task that ends with a summary; the others end only to say
            // "cancel now" (and when the batch is over, they are cancelled and end too).
            while let ended = try await group.next() {
                group.cancelAll()
                if let summary = ended { return summary }
            }
            throw CancellationError()
        }
        summary.skipped = source.skipped.count
        report(summary)
        if let path = options.summaryJSON {
            try writeSummary(summary, to: path)
        }
        if interrupted.count > 0 { return ExitCode(130) }
        if summary.inputFailed { return ExitCode(2) }
        return summary.allSucceeded ? .success : ExitCode(1)
    }

    private func report(_ summary: BatchSummary) {
        if !options.quiet {
            for line in SummaryText.lines(summary, unit: unit, concurrency: options.concurrency, showTokens: showTokens) {
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
