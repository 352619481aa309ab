import ArgumentParser
import PacerCore
import PacerHTTP
import PacerJSON
import PacerJobs
import PacerOpenAI
import PacerPostgres

/// `pacer queue push`: checks an OpenAI Batch API file as `pacer batch` does and loads it into
/// a batch in PostgreSQL, for `pacer worker`s to run.
struct QueuePushCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push",
        abstract: "Check an OpenAI Batch API file (or prompts, or texts) as pacer batch does and load it into a batch.",
        discussion: """
            The whole file is checked first (bad input: exit 2, naming the file and line, and nothing \
            is loaded); then it is streamed into the database with COPY, in one transaction. Pushing \
            to an existing batch appends; an id already in the batch is refused (and nothing loaded). \
            From stdin the lines are checked as they are loaded, and a bad one rolls the load back.
            """
    )

    @Argument(help: "OpenAI Batch API input lines, or prompts or texts with --requests. '-' reads stdin.")
    var input: String

    @Option(
        help: ArgumentHelp(
            "What the input holds: batch (OpenAI Batch API lines), chat (prompts, as pacer chat reads them) or embeddings (texts, as pacer embed reads them).",
            discussion:
                "chat and embeddings make each line the request pacer chat or pacer embed would send, with --model and the other request options; embeddings are one text per request (workers do not pack them)."
        )
    )
    var requests: RequestKind = .batch

    @Option(help: "With --requests chat or embeddings: the model, unless a line names one.")
    var model: String?

    @Option(help: "With --requests chat: most tokens per answer (default: the server's).")
    var maxTokens: Int?

    @Option(help: "With --requests chat: sampling temperature (default: the server's).")
    var temperature: Double?

    @Option(help: "With --requests chat: a system message put before every prompt.")
    var system: String?

    @Option(help: "With --requests embeddings: the size of the vectors (default: the model's).")
    var dimensions: Int?

    @Option(help: "With --requests embeddings: float or base64 (default: the server's, float).")
    var encodingFormat: String?

    /// What `pacer queue push` reads.
    enum RequestKind: String, ExpressibleByArgument, CaseIterable {
        case batch, chat, embeddings
    }

    @OptionGroup var database: DatabaseOptions

    @OptionGroup var wait: DatabaseWaitOption

    @Option(help: "Input format: auto, batch or jsonl (each reads OpenAI Batch API lines).")
    var format: InputFormat = .auto

    @Option(
        help:
            "Items per chunk: what a worker claims at once (and what a dead worker's reaper gives back). Smaller spreads a small batch over more workers; larger means fewer database round trips."
    )
    var chunkSize: Int = 100

    @Flag(name: .shortAndLong, help: "Print nothing on stderr but errors.")
    var quiet = false

    func validate() throws {
        guard database.batch != WorkerCommand.anyBatch else {
            throw ValidationError("--batch '*' is the name pacer worker takes for any batch; give the batch a name")
        }
        if requests == .batch {
            guard format == .auto || format == .batch || format == .jsonl else {
                throw ValidationError(
                    "pacer queue push reads OpenAI Batch API lines; --format \(format.rawValue) does not apply "
                        + "(push prompts or texts with --requests chat or embeddings)"
                )
            }
            let given = [
                ("--model", model != nil), ("--max-tokens", maxTokens != nil), ("--temperature", temperature != nil),
                ("--system", system != nil), ("--dimensions", dimensions != nil),
                ("--encoding-format", encodingFormat != nil),
            ]
            if let (flag, _) = given.first(where: { $0.1 }) {
                throw ValidationError(
                    "\(flag) applies with --requests chat or embeddings; Batch API lines carry their own"
                )
            }
        }
        if requests == .chat, format == .batch {
            throw ValidationError("--requests chat reads prompts; push Batch API lines with --requests batch")
        }
        guard (1...100_000).contains(chunkSize) else { throw ValidationError("--chunk-size must be 1 to 100000") }
        try NumberCheck.within(maxTokens, "--max-tokens", 1...NumberCheck.largestCount)
        try NumberCheck.within(temperature, "--temperature", 0...2)
        try NumberCheck.within(dimensions, "--dimensions", 1...1_000_000)
        if let encodingFormat, !["float", "base64"].contains(encodingFormat) {
            throw ValidationError("--encoding-format must be float or base64, got '\(encodingFormat)'")
        }
    }

    /// How an input line becomes the request the queue holds.
    var parser: ItemParser<APIRequest> {
        switch requests {
        case .batch:
            .batchAPI
        case .chat:
            .chatRequests(model: model ?? "gpt-4o-mini", maxTokens: maxTokens, temperature: temperature, system: system)
        case .embeddings:
            .embeddingRequests(
                model: model ?? "text-embedding-3-small",
                dimensions: dimensions,
                encodingFormat: encodingFormat
            )
        }
    }

    func run() async throws {
        let environment = Environment.current
        let url = try database.databaseURL(environment: environment)
        if input != "-" {
            // As pacer batch: the whole file is checked before anything is spent on it.
            _ = try await ItemSource(path: input, format: format, parser: parser).count()
        }
        let source = try ItemSource(path: input, format: format, parser: parser)
        let rows = source.map { item in
            PushRow(customID: item.id, url: item.input.endpoint.batchURL, body: item.input.body.jsonText)
        }
        let reporter = RunConsole.outages(quiet: quiet)
        let batch = database.batch
        let (pushed, total) = try await QueueDatabase.withDatabase(url) { database in
            let queue = BatchQueue(database: database, batch: batch)
            return try await DatabaseErrors.readable(url) {
                try await wait.reaching(url, onOutage: reporter.report) { onOutage in
                    try await database.retrying("create the queue's tables", onOutage: onOutage) {
                        try await queue.prepareSchema()
                    }
                }
                return try await queue.push(rows, chunkSize: chunkSize)
            }
        }
        if !quiet {
            Console.error(
                "pushed \(pushed) items to batch '\(batch)' in \(url) (chunks of \(chunkSize)); it holds \(total) items. "
                    + "Start workers: pacer worker --db URL --batch \(batch)"
            )
        }
    }
}

/// Database errors as messages a person can act on (`PSQLError` prints nothing useful).
enum DatabaseErrors {
    /// Runs `body`; a database or queue error becomes an ``InputError`` naming the database
    /// (exit status 2), its message without the password.
    static func readable<T: Sendable>(_ url: DatabaseURL, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as InputError {
            throw error
        } catch let error as QueueError {
            throw InputError(file: url.description, message: error.description)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            let message = DatabaseFailure.describe(error)
            throw InputError(file: url.description, message: message)
        }
    }
}
