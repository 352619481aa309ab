import ArgumentParser
import Foundation
import PacerCore
import PacerHTTP
import PacerJobs
import PacerOpenAI

/// `pacer probe`: sweeps concurrency against a chat endpoint and recommends the number to use.
struct ProbeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Find the concurrency a chat server serves best: sweep 1, 2, 4, … requests in flight.",
        discussion: """
            Each step keeps that many generated prompts in flight for --step-seconds (a request \
            that fails is followed by a short pause, not a retry) and measures requests/s, \
            output tokens/s, latency and errors. The table goes to stdout, with the smallest \
            concurrency that reaches 95% of the best throughput at no more than 2% errors: \
            past it, more requests only queue. --plot draws the sweep as an SVG chart.
            """
    )

    @Option(help: "API root including its version (default: $OPENAI_BASE_URL or https://api.openai.com/v1).")
    var baseURL: String?

    @Option(help: "The model to probe.")
    var model: String = "gpt-4o-mini"

    @Option(help: "Read the API key from this file instead of OPENAI_API_KEY.")
    var apiKeyFile: String?

    @Option(name: .customLong("header"), help: "A header for every request, as 'Name: value'. Repeatable.")
    var headers: [String] = []

    @Option(help: "Trust the CA certificates in this PEM file for HTTPS, besides the system's.")
    var caCert: String?

    @Option(help: "The first concurrency of the sweep.")
    var minConcurrency = 1

    @Option(help: "The last concurrency of the sweep (steps double up to it).")
    var maxConcurrency = 64

    @Option(help: "Seconds each step keeps its requests in flight.")
    var stepSeconds: Double = 10

    @Option(help: "Most tokens per generated answer.")
    var maxTokens = 128

    @Option(help: "Per-request timeout in seconds.")
    var timeout: Double = 60

    @Option(help: "The text of the generated prompts (each gets a unique number in front).")
    var prompt = "Explain in a short paragraph why batch clients should pace their requests."

    @OptionGroup var streamOptions: StreamOptions

    @Option(help: "Draw throughput and latency against concurrency into this SVG file.")
    var plot: String?

    @Option(help: "Write the steps and the recommendation as JSON to this file.")
    var json: String?

    func validate() throws {
        guard maxConcurrency >= 1 else { throw ValidationError("--max-concurrency must be at least 1") }
        guard minConcurrency >= 1, maxConcurrency >= minConcurrency else {
            throw ValidationError("--min-concurrency must be at least 1 and at most --max-concurrency")
        }
        // A sweep takes minutes: a file that cannot be written is better found before it.
        for (flag, path) in [("--plot", plot), ("--json", json)] {
            guard let path else { continue }
            let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
                throw ValidationError("\(flag) \(path): the folder \(folder) does not exist")
            }
        }
        guard maxConcurrency <= 4096 else { throw ValidationError("--max-concurrency must be at most 4096") }
        try NumberCheck.seconds(stepSeconds, "--step-seconds", limit: 86_400)
        try NumberCheck.seconds(timeout, "--timeout")
        try NumberCheck.within(maxTokens, "--max-tokens", 1...NumberCheck.largestCount)
        for header in headers { try RunOptions.check(header) }
    }

    func run() async throws {
        let environment = Environment.current
        var fields: [String: String] = [:]
        for header in headers {
            if let (name, value) = RunOptions.parse(header) { fields[name] = value }
        }
        let access: APIAccess
        let transportConfiguration: HTTPTransport.Configuration
        do {
            access = try APIOptions.access(
                baseURL: baseURL,
                apiKeyFile: apiKeyFile,
                headers: fields,
                environment: environment
            )
            transportConfiguration = try RunOptions.transportConfiguration(
                caCert: caCert,
                connections: maxConcurrency,
                environment: environment
            )
        } catch let error as InputError {
            Console.error("error: \(error)")
            throw ExitCode(2)
        }
        var clientConfiguration = ChatClient.Configuration(access: access, model: model, maxTokens: maxTokens)
        clientConfiguration.streaming = streamOptions.streaming
        let levels = ProbeReport.concurrencies(upTo: maxConcurrency, from: minConcurrency)
        let report = try await HTTPTransport.withTransport(configuration: transportConfiguration) { transport in
            let sweep = ProbeSweep(
                client: ChatClient(configuration: clientConfiguration, transport: transport),
                stepDuration: .pacerSeconds(stepSeconds),
                timeout: .pacerSeconds(timeout),
                prompt: prompt
            )
            return await sweep.run(levels: levels) { step, index in
                Console.error(
                    "step \(index + 1)/\(levels.count): \(step.concurrency) in flight: "
                        + "\(SummaryText.format(step.requestsPerSecond, digits: 2)) req/s, "
                        + "\(SummaryText.format(step.outputTokensPerSecond, digits: 1)) output tokens/s, "
                        + "\(step.errors) errors"
                )
            }
        }
        for line in report.table { print(line) }
        if let recommended = report.recommended {
            print(
                "Recommended: --concurrency \(recommended) (or --concurrency auto to follow the server as it changes)"
            )
        } else {
            print("No recommendation: every step failed more than 2% of its requests.")
        }
        if let plot {
            try write(
                ProbeChart(report: report, title: "pacer probe: \(model) at \(access.baseURL)").svg,
                to: plot
            )
        }
        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let document = ProbeDocument(steps: report.steps, recommended: report.recommended)
            try write(String(decoding: try encoder.encode(document), as: UTF8.self) + "\n", to: json)
        }
        if report.recommended == nil { throw ExitCode(1) }
    }

    private func write(_ text: String, to path: String) throws {
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        } catch {
            Console.error("error: \(path): cannot write: \(error.localizedDescription)")
            throw ExitCode(2)
        }
    }

    /// The `--json` file.
    struct ProbeDocument: Encodable {
        var steps: [ProbeStep]
        var recommended: Int?
    }
}
