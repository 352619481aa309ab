import ArgumentParser
import PacerCore
import PacerHTTP
import PacerJobs
import PacerOpenAI

/// `pacer batch`: runs an OpenAI Batch API input file live, each line against the endpoint
/// its `url` names, and writes the output and error files OpenAI's Batch API would.
struct BatchAPICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "batch",
        abstract: "Run an OpenAI Batch API input file live, at the API's pace.",
        discussion: """
            INPUT holds OpenAI Batch API lines: {"custom_id", "method": "POST", "url", "body"}, \
            where url is /v1/chat/completions, /v1/embeddings, /v1/completions, /v1/responses or \
            /v1/moderations (mixed freely). Answers go to --output as the Batch API's output \
            lines; failures to --errors (default: beside the output, NAME.errors.jsonl) in the \
            same shape, with the server's status and body, or an "error" with a code and a \
            message when there was no answer. A rerun continues both files; --retry-failed \
            redoes the failures. The key is read from OPENAI_API_KEY; the API root from \
            --base-url or OPENAI_BASE_URL.
            """
    )

    @OptionGroup var run: RunOptions

    @OptionGroup var api: APIOptions

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
    }

    /// The errors file: `--errors`, or `NAME.errors.jsonl` beside `NAME.jsonl`; `nil` when
    /// the output is stdout and no `--errors` was given (failures go to stdout too).
    static func errorsPath(flag: String?, output: String?) -> String? {
        if let flag { return flag == "-" ? nil : flag }
        guard let output, output != "-" else { return nil }
        let stem = output.hasSuffix(".jsonl") ? String(output.dropLast(6)) : output
        return stem + ".errors.jsonl"
    }

    func run() async throws {
        let environment = Environment.current
        let clientConfiguration = APIClient.Configuration(
            access: try api.access(run: run, environment: environment),
            pricing: try api.pricing()
        )
        let transportConfiguration = try run.transportConfiguration(environment: environment)
        let errorsPath = Self.errorsPath(flag: errors, output: run.output)
        let status = try await HTTPTransport.withTransport(configuration: transportConfiguration) { transport in
            let client = APIClient(configuration: clientConfiguration, transport: transport)
            var job = BatchJob(
                options: run,
                // Learn the limits from one request before sending a wave, as chat does.
                configuration: run.batchConfiguration(defaultTimeout: 60, tpm: api.tpm, probeFirst: true),
                operation: client,
                parser: .batchAPI,
                unit: "requests",
                showTokens: true,
                makeLine: { _, result in BatchAPILine(result) }
            )
            job.makeInvalidLine = { BatchAPILine.invalid(id: $0, error: $1) }
            job.errorsPath = errorsPath
            api.applyCostOptions(to: &job) { client.costEstimate(for: $0) }
            return try await job.run()
        }
        throw status
    }
}
