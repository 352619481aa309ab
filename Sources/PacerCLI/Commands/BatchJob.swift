import ArgumentParser
import Foundation
import PacerCore

/// The common run of `pacer chat` and `pacer fetch`: check the input, run the batch, write a
/// JSONL line per item as it finishes, print the summary, and choose the exit status.
struct BatchJob<Operation: BatchOperation> {
    let options: RunOptions
    let configuration: BatchConfiguration
    let operation: Operation
    let parser: ItemParser<Operation.Input>
    /// What an item is called in the summary ("prompts", "URLs").
    let unit: String
    let showTokens: Bool
    let makeLine: (BatchItem<Operation.Input>, ItemResult<Operation.Output>) -> OutputLine

    /// Runs the batch; returns the exit status (0 all succeeded, 1 some failed).
    ///
    /// - Throws: ``InputError`` for an unusable input or output (exit status 2).
    func run() async throws -> ExitCode {
        let logger = Console.logger(quiet: options.quiet, verbose: options.verbose)
        let source = try ItemSource(path: options.input, format: options.format, parser: parser)
        if options.input != "-" {
            // Check the whole file before spending anything on it.
            _ = try await source.count()
        }
        let writer = try OutputWriter(path: options.output)
        let runner = BatchRunner(
            configuration: configuration,
            random: options.seed.map(RandomSource.seeded) ?? .system,
            logger: logger
        )
        let summary: BatchSummary
        var stopped: (any Error)?
        do {
            summary = try await runner.run(source, operation: operation) { item, result in
                // An item stopped before it was done is not written: a rerun does it.
                if result.error?.kind == .cancelled { return }
                try writer.write(makeLine(item, result))
            }
        } catch let error as BatchStopped {
            summary = error.summary
            stopped = error.cause
        }
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
        if let stopped {
            Console.error("error: \(stopped)")
            Console.error("stopped reading the input; the \(summary.total) items that finished were written.")
            return ExitCode(2)
        }
        return summary.allSucceeded ? .success : ExitCode(1)
    }
}
