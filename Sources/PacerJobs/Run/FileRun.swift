import Logging
import PacerCore
import PacerOpenAI

/// One run of a batch over a file as a library call: what to read, where to write and how to
/// pace are values; the summary comes back. No argument parsing, no printing, no exit: the
/// CLI, a worker and a server start a run the same way and say what they like about it.
///
/// ```swift
/// let run = FileRun(settings: settings, operation: client, parser: .chat(defaults), feed: OneToOneFeed(makeLine: …))
/// let prepared = try await run.prepare(knownItems: try await run.checkInput())
/// let report = try await prepared.run(quota: nil, progress: BatchProgress(), handle: RunHandle()) { note in … }
/// ```
package struct FileRun<Operation: BatchOperation, Feed: JobFeed>: Sendable
where Feed.Unit == Operation.Input, Feed.Output == Operation.Output {
    /// What to read, where to write, and how to run.
    package struct Settings: Sendable {
        /// The input file, or `-` for stdin.
        package var input: String
        /// How its lines are read.
        package var format: InputFormat = .auto
        /// The output file (the journal a rerun continues); `nil` writes to stdout.
        package var output: String?
        /// Where failures go instead of the output (an OpenAI Batch API errors file).
        package var errors: String?
        /// Continue an existing output (skip the ids done); `false` refuses a non-empty one.
        package var resume = true
        /// Do again the ids whose line is a failure.
        package var retryFailed = false
        /// Write a line that cannot be read as its item's failure and go on.
        package var skipInvalid = false
        /// With a value: write results in input order, holding at most this many.
        package var orderedWindow: Int?
        /// How the items are sent: the engine, the grace, the seed, the logger.
        package var run: RunSettings

        /// Settings for reading `input` and sending its items as `run` says.
        package init(input: String, run: RunSettings) {
            self.input = input
            self.run = run
        }
    }

    /// What to read, where to write, how to run.
    package var settings: Settings
    /// The work for one unit.
    package var operation: Operation
    /// How an input line becomes an item.
    package var parser: ItemParser<Feed.Input>
    /// How items become the runner's units, and units lines.
    package var feed: Feed
    /// The line written for an input line that cannot be read, with ``Settings/skipInvalid``.
    package var makeInvalidLine: @Sendable (String, InputError) -> any OutputRecord = {
        OutputLine.invalid(id: $0, error: $1)
    }
    /// A cap on the run's spend in USD, and the most a unit may cost.
    package var costCap: (usd: Double, maxCost: @Sendable (Operation.Input) -> Double)?
    /// Told of each unit's result with the items it ends (a metrics recorder, say).
    package var observe: (@Sendable (ItemResult<Operation.Output>, _ items: Int) -> Void)?
    /// Told of each input line that cannot be read, with ``Settings/skipInvalid``.
    package var observeInvalid: (@Sendable () -> Void)?

    /// A run of `operation` over `settings`' input, through `feed`.
    package init(settings: Settings, operation: Operation, parser: ItemParser<Feed.Input>, feed: Feed) {
        self.settings = settings
        self.operation = operation
        self.parser = parser
        self.feed = feed
    }

    /// Checks the whole input file before anything is spent on it (or the output created);
    /// returns its items (`nil` for stdin, which is read as it goes). It runs before the
    /// journal is read, so that its duplicate check and the journal's done ids are never in
    /// memory together.
    ///
    /// - Throws: ``InputError`` naming the file and line of the first line that cannot be used.
    package func checkInput() async throws -> Int? {
        guard settings.input != "-" else { return nil }
        let tolerate: (@Sendable (String, InputError) -> Void)? =
            settings.skipInvalid ? { @Sendable _, _ in } : nil
        let check = try ItemSource(
            path: settings.input,
            format: settings.format,
            parser: parser,
            skip: { _ in false },
            onInvalid: tolerate
        )
        return try await check.count().items
    }

    /// Locks the output (and errors) file, reads its journal (repairing a torn last line) and
    /// opens the writers; the run starts with ``PreparedFileRun/run(quota:progress:handle:notes:)``.
    ///
    /// - Parameter knownItems: The input's items, when ``checkInput()`` counted them.
    /// - Throws: ``InputError`` when the output is in use, cannot be read or is not Pacer's.
    package func prepare(knownItems: Int?) async throws -> PreparedFileRun<Operation, Feed> {
        let output = settings.output.flatMap { $0 == "-" ? nil : $0 }
        let errors = output == nil ? nil : settings.errors
        let files = output.map { [$0] + (errors.map { [$0] } ?? []) } ?? []
        // Held until the run is over: no other run reads, repairs or writes these files meanwhile.
        let lock = files.isEmpty ? nil : try OutputLock(paths: files)
        let journal =
            files.isEmpty
            ? Journal()
            : try await Journal.open(paths: files, resume: settings.resume, retryFailed: settings.retryFailed)
        let writer = try OutputWriter(path: output)
        return PreparedFileRun(
            run: self,
            output: output,
            errors: errors,
            lock: lock,
            journal: journal,
            writer: writer,
            // Failures go to the errors file when there is one, else with the successes.
            failureWriter: try errors.map { try OutputWriter(path: $0) } ?? writer,
            // The items left to do (exact when the output holds only ids of this input, as a
            // rerun's does); it only sizes a progress display.
            total: feed.unitsAreItems ? knownItems.map { max(0, $0 - journal.doneCount) } : nil
        )
    }
}
