import ArgumentParser
import PacerCore
import PacerHTTP
import PacerJobs
import PacerOpenAI

/// `pacer batch`: runs an OpenAI Batch API input file live, each line against the endpoint
/// its `url` names, and writes the output and error files OpenAI's Batch API would; or an
/// Anthropic Message Batch file against `/v1/messages`, writing Anthropic's results file.
struct BatchAPICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "batch",
        abstract: "Run an OpenAI Batch API or Anthropic Message Batch file live, at the API's pace.",
        discussion: """
            INPUT holds OpenAI Batch API lines: {"custom_id", "method": "POST", "url", "body"}, \
            where url is /v1/chat/completions, /v1/embeddings, /v1/completions, /v1/responses or \
            /v1/moderations (mixed freely). Answers go to --output as the Batch API's output \
            lines; failures to --errors (default: beside the output, NAME.errors.jsonl) in the \
            same shape, with the server's status and body, or an "error" with a code and a \
            message when there was no answer. A rerun continues both files; --retry-failed \
            redoes the failures. The key is read from OPENAI_API_KEY; the API root from \
            --base-url or OPENAI_BASE_URL.

            An Anthropic Message Batch file ({"custom_id", "params"} lines, told by its first \
            line, or --provider anthropic) runs against /v1/messages with ANTHROPIC_API_KEY, \
            and --output gets Anthropic's results lines: {"custom_id", "result": {"type": \
            "succeeded", "message"}} or "errored" with the error (failures go to --errors only \
            when it is given).
            """
    )

    @OptionGroup var run: RunOptions

    @OptionGroup var api: APIOptions

    @OptionGroup var cacheOptions: CacheOptions

    @OptionGroup var routesOptions: RoutesOptions

    @Option(help: "Write failures here (default: beside --output, as NAME.errors.jsonl; with stdout, to stdout).")
    var errors: String?

    func validate() throws {
        guard run.format == .auto || run.format == .batch || run.format == .jsonl else {
            throw ValidationError(
                "pacer batch reads OpenAI Batch API lines; --format \(run.format.rawValue) does not apply"
            )
        }
        if let errors, errors == run.output, errors != "-" {
            throw ValidationError("--errors must be another file than --output")
        }
        try routesOptions.validate(with: run, tpm: api.tpm)
    }

    /// The errors file: `--errors`, or `NAME.errors.jsonl` beside `NAME.jsonl`; `nil` when
    /// the output is stdout and no `--errors` was given (failures go to stdout too).
    static func errorsPath(flag: String?, output: String?) -> String? {
        if let flag { return flag == "-" ? nil : flag }
        guard let output, output != "-" else { return nil }
        let stem = output.hasSuffix(".jsonl") ? String(output.dropLast(6)) : output
        return stem + ".errors.jsonl"
    }

    /// The provider of this run: `--provider`, else Anthropic when the input's first line is a
    /// Message Batch line.
    func provider() async throws -> Provider {
        if let provider = api.provider { return provider }
        guard run.input != "-" else { return .openai }
        return try await ItemSource<APIRequest>.holdsMessageBatch(path: run.input) ? .anthropic : .openai
    }

    func run() async throws {
        throw try await cacheOptions.withCache(run) { try await send(cache: $0) }
    }

    /// Runs the batch with `cache`; returns the exit status.
    private func send(cache: ResponseCache?) async throws -> ExitCode {
        let environment = Environment.current
        let provider = try await provider()
        var clientConfiguration = APIClient.Configuration(
            access: try api.access(
                run: run,
                environment: environment,
                provider: provider,
                keyOptional: routesOptions.routes != nil
            ),
            pricing: try api.pricing()
        )
        clientConfiguration.cache = cache
        let transportConfiguration = try run.transportConfiguration(environment: environment)
        // Anthropic's results file holds every result; failures go apart only when asked.
        let errorsPath =
            provider == .anthropic
            ? errors.flatMap { $0 == "-" ? nil : $0 } : Self.errorsPath(flag: errors, output: run.output)
        return try await HTTPTransport.withTransport(configuration: transportConfiguration) { transport in
            var sender = APISender.direct(APIClient(configuration: clientConfiguration, transport: transport))
            // Learn the limits from one request before sending a wave, as chat does.
            var engine = run.batchConfiguration(defaultTimeout: 60, tpm: api.tpm, probeFirst: true)
            var parser: ItemParser<APIRequest> = provider == .anthropic ? .messageBatch : .batchAPI
            var routedRun: RoutedRun?
            // Read before any request: a bad routes file is exit 2 with its line.
            if let routes = try routesOptions.client(
                run: run,
                environment: environment,
                transport: transport,
                client: clientConfiguration
            ) {
                sender = .routed(routes.client)
                engine = RoutesOptions.engine(run, concurrency: routes.concurrency)
                parser = parser.served(by: routes.client.models, routes: routesOptions.routes ?? "the routes") {
                    $0.model
                }
                routedRun = routes.run(engine: engine, options: run)
            }
            var job = BatchJob(
                options: run,
                configuration: engine,
                operation: sender,
                parser: parser,
                unit: "requests",
                showTokens: true,
                makeLine: { _, result in
                    provider == .anthropic ? MessageBatchResultLine(result) as any OutputRecord : BatchAPILine(result)
                }
            )
            job.makeInvalidLine = {
                provider == .anthropic
                    ? MessageBatchResultLine.invalid(id: $0, error: $1) as any OutputRecord
                    : BatchAPILine.invalid(id: $0, error: $1)
            }
            job.errorsPath = errorsPath
            job.routes = routedRun
            if let primary = sender.primary { api.applyCostOptions(to: &job) { primary.costEstimate(for: $0) } }
            return try await job.run()
        }
    }
}
