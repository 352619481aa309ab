import ArgumentParser
import Foundation
import PacerCLI
import PacerCore
import PacerHTTP
import PacerJobs
import PacerOpenAI
import PacerSimulator

/// `pacer bench`: measurements against the in-process simulator, printed as a table.
///
/// Run it in release mode (`swift run -c release pacer bench`); numbers from a debug build
/// measure the debug build.
public struct BenchCommand: AsyncParsableCommand {
    /// The command's name, abstract and the sections it measures.
    public static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract:
            "Measure speedup, efficiency, overhead, memory and pacing against the simulator (run with -c release).",
        discussion: """
            reference: chat 10 prompts × 3 concurrent and fetch 20 URLs × 5 concurrent at 500 ms, \
            sequential against concurrent (the reference solutions' benchmarks). \
            scale: fetch 10,000 URLs × 200 concurrent × 50 ms, and the same with 20% faults; wall \
            time against the ideal ceil(N/C)·L, retries and items lost. \
            overhead: 50,000 fetches at 0 latency, 100 concurrent, with the simulator in a process of \
            its own: items/s and client CPU µs per item, for the HTTP client alone, the engine, and \
            `pacer fetch` from a file; then the same three rows for each API endpoint, run in turn \
            round by round, with the command's cost over the HTTP client's. \
            memory: peak RSS of `pacer fetch` over 10^4, 10^5 and 10^6 URLs streamed from a file. \
            pacing: for RPM limits 60, 600 and 6000, with the limit given (--rpm) and learned from \
            the server's headers, chat requests for --seconds against a simulator enforcing the \
            limit; the achieved rate in steady state against the limit and the 429s received. \
            adaptive: `pacer probe`'s sweep against --slots 8 --token-ms 20, then 500 prompts at \
            concurrency 1, 4, 8, 16, 64 and auto (throughput, p50 latency, refused, mean in flight \
            after the first 10%), and auto against one slot, a queue of 4 and slots that halve. \
            streaming: client CPU per output token, streamed against not, over 2,000 long answers. \
            reference-client: the reference solution's Python client (openai-python, from \
            $PACER_OPENAI_VENV or /tmp/pacer-openai-venv) and `pacer chat`, 5,000 prompts × 100 \
            concurrent against one simulator process: whole-process CPU per request and the ratio. \
            engine (not run by default): the engine's own CPU per item without HTTP, 200,000 items \
            whose attempt only suspends once, against plain tasks doing the same. \
            serve (not run by default, about 2.5 minutes): a 10,000- and a 50,000-line chat batch \
            through pacer serve against pacer simulate --rpm 30000, over the API: the steady rate \
            against the limit, the 429s, the server's CPU per line and its peak RSS. \
            With --repeat N, each figure is the median of N runs.
            """
    )

    @Option(help: "Seconds each pacing run lasts.")
    var seconds: Double = 20

    @Option(name: .customLong("repeat"), help: "Runs per figure; the median is reported.")
    var repetitions: Int = 1

    @Option(help: "Simulated latency per request, in milliseconds.")
    var latencyMs: Int = 50

    @Option(
        help:
            "Sections to run, comma-separated: \(Self.allSections.joined(separator: ", ")) (default: all but reference-client, which needs openai-python)."
    )
    var sections: String = Self.defaultSections.joined(separator: ",")

    static let allSections = defaultSections + ["reference-client", "engine", "serve"]

    /// The sections that need nothing but this build.
    static let defaultSections = ["reference", "scale", "overhead", "memory", "pacing", "adaptive", "streaming"]

    @Flag(help: "Print the results as JSON lines instead of a table.")
    var json = false

    public func validate() throws {
        try NumberCheck.seconds(seconds, "--seconds", limit: 86_400)
        guard seconds >= 5 else { throw ValidationError("--seconds must be at least 5") }
        try NumberCheck.within(repetitions, "--repeat", 1...1_000)
        guard latencyMs >= 0 else { throw ValidationError("--latency-ms must not be negative") }
        let unknown = Set(sections.split(separator: ",").map(String.init)).subtracting(Self.allSections)
        guard unknown.isEmpty else {
            throw ValidationError(
                "unknown section(s) \(unknown.sorted()); choose from \(Self.allSections.joined(separator: ", "))"
            )
        }
    }

    struct PacingResult: Codable {
        var limit: Int
        var mode: String
        var requests: Int
        var wallSeconds: Double
        var steadyPerMinute: Double
        var ratio: Double
        var rateLimited: Int
    }

    /// Creates the command (used by swift-argument-parser).
    public init() {}

    /// Runs the sections asked for and prints their tables.
    public func run() async throws {
        #if DEBUG
        Console.error("note: this is a debug build; use `swift run -c release pacer bench` for figures worth quoting")
        #endif
        let chosen = Set(sections.split(separator: ",").map(String.init))
        if chosen.contains("reference") { try await runReference() }
        if chosen.contains("scale") { try await runScale() }
        if chosen.contains("overhead") { try await runOverhead() }
        if chosen.contains("memory") { try await runMemory() }
        if chosen.contains("pacing") { try await runPacing() }
        if chosen.contains("adaptive") { try await runAdaptive() }
        if chosen.contains("streaming") { try await runStreaming() }
        if chosen.contains("reference-client") { try await runReferenceClient() }
        if chosen.contains("engine") { try await runEngine() }
        if chosen.contains("serve") { try await runServe() }
    }

    func runPacing() async throws {
        if !json {
            print(
                "Pacing accuracy: chat requests for \(Int(seconds)) s against a simulator enforcing the limit (quantized),"
            )
            print("\(latencyMs) ms latency, concurrency 50; steady state: the attempts from 2 s after the first on.")
            print("median of \(repetitions) run(s)\n")
            print(row(["limit RPM", "limit from", "requests", "wall s", "steady RPM", "achieved/limit", "429s"]))
            print(row(Array(repeating: "---", count: 7)))
        }
        for limit in [60, 600, 6000] {
            for learned in [false, true] {
                let median = try await median(by: \.ratio) { try await pacingRun(limit: limit, learned: learned) }
                if json {
                    print(String(decoding: try JSONEncoder().encode(median), as: UTF8.self))
                } else {
                    print(
                        row([
                            String(limit), median.mode, String(median.requests),
                            SummaryText.format(median.wallSeconds, digits: 1),
                            SummaryText.format(median.steadyPerMinute, digits: 0),
                            SummaryText.format(median.ratio, digits: 3),
                            String(median.rateLimited),
                        ])
                    )
                }
            }
        }
    }

    func row(_ cells: [String]) -> String { "| " + cells.joined(separator: " | ") + " |" }

    /// Prints `results` as JSON lines (`--json`), or as a Markdown table under `title`.
    func printResults<Result: Encodable>(
        _ results: [Result],
        title: String,
        header: [String],
        cells: (Result) -> [String]
    ) throws {
        if json {
            for result in results { print(String(decoding: try JSONEncoder().encode(result), as: UTF8.self)) }
            return
        }
        print(title)
        print("median of \(repetitions) run(s)\n")
        print(row(header))
        print(row(Array(repeating: "---", count: header.count)))
        for result in results { print(row(cells(result))) }
        print("")
    }

    /// One run: enough requests for `seconds` at the limit (plus the burst).
    private func pacingRun(limit: Int, learned: Bool) async throws -> PacingResult {
        let simulator = SimulatorConfiguration(
            latency: .milliseconds(latencyMs),
            requestsPerMinute: limit,
            limitWindow: .quantized
        )
        return try await Simulator.withRunning(simulator) { server in
            try await HTTPTransport.withTransport(configuration: .init(maxConnectionsPerHost: 50)) { transport in
                let count = Int(Double(limit) / 60 * seconds)
                let client = ChatClient(
                    configuration: .init(baseURL: server.baseURL, maxTokens: 16),
                    transport: transport
                )
                let runner = BatchRunner(
                    configuration: BatchConfiguration(
                        maxConcurrent: 50,
                        attemptTimeout: .seconds(10),
                        pacing: RateLimits(requestsPerMinute: learned ? nil : Double(limit), probeFirst: learned)
                    )
                )
                let timed = TimedOperation(base: client)
                let summary = try await runner.collect(
                    (1...count).map { ChatPrompt("bench prompt \($0)") },
                    operation: timed
                ).summary
                // Steady state: attempts from 2 s after the first one on; the rate is the number of
                // intervals between them over their span, so a 60 RPM run is not rounded to whole seconds.
                let starts = timed.starts
                let steady = starts.drop { $0 < (starts.first ?? 0) + 2 }
                let span = (steady.last ?? 0) - (steady.first ?? 0)
                let steadyPerMinute = steady.count > 1 && span > 0 ? Double(steady.count - 1) / span * 60 : 0
                return PacingResult(
                    limit: limit,
                    mode: learned ? "headers" : "--rpm",
                    requests: summary.requests,
                    wallSeconds: summary.wallSeconds,
                    steadyPerMinute: steadyPerMinute,
                    ratio: steadyPerMinute / Double(limit),
                    rateLimited: summary.rateLimitedResponses
                )
            }
        }
    }
}
