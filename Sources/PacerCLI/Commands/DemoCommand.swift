import ArgumentParser
import PacerCore
import PacerHTTP
import PacerJobs
import PacerOpenAI
import PacerSimulator

/// `pacer demo`: the reference solutions' "Performance Benchmarks", reproduced against the
/// built-in simulator, plus runs with injected faults, packed embeddings, a self-hosted
/// server, workers on a throwaway PostgreSQL, and openai-python's Batch API code against
/// `pacer serve`.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Reproduce the reference benchmarks against the built-in simulator (no network needed)."
    )

    @Option(help: "Simulated latency per request, in milliseconds.")
    var latencyMs: Int = 500

    func validate() throws {
        guard latencyMs >= 0 else { throw ValidationError("--latency-ms must not be negative") }
    }

    func run() async throws {
        let latency = Duration.milliseconds(latencyMs)
        let allSucceeded = try await Simulator.withRunning(SimulatorConfiguration(latency: latency)) { server in
            print("Pacer demo: the reference \"Performance Benchmarks\" against the built-in simulator")
            print("(\(server.rootURL), \(latencyMs) ms per request; sequential = the same engine with concurrency 1)\n")
            let chat = try await SpeedupComparison.chat(server: server)
            report(chat, title: "Exercise 01 · chat: 10 prompts, max 3 concurrent", unit: "prompts", showTokens: true)
            let fetch = try await SpeedupComparison.fetch(server: server)
            report(fetch, title: "Exercise 02 · fetch: 20 URLs, max 5 concurrent", unit: "URLs", showTokens: false)
            return chat.allSucceeded && fetch.allSucceeded
        }
        let faultsSurvived = try await faultInjectedRun()
        let embedded = try await embeddingsRun()
        let selfHosted = try await selfHostedRun()
        let scaledOut = try await scaleOutRun()
        let served = try await serveRun()
        let allPassed = allSucceeded && faultsSurvived && embedded && selfHosted && scaledOut && served
        throw allPassed ? ExitCode.success : ExitCode(1)
    }

    /// Prints one comparison with the concurrent run's summary.
    private func report(_ comparison: SpeedupComparison, title: String, unit: String, showTokens: Bool) {
        print(title)
        print("  sequential  \(SummaryText.format(comparison.sequential.wallSeconds, digits: 2))s")
        print("  concurrent  \(SummaryText.format(comparison.concurrent.wallSeconds, digits: 2))s")
        print(
            "  speedup     \(SummaryText.format(comparison.speedup, digits: 2))x  (ideal \(SummaryText.format(comparison.idealSpeedup, digits: 2))x: "
                + "\(comparison.items) items in \(comparison.waves) waves of \(comparison.concurrency))"
        )
        for line in SummaryText.lines(
            comparison.concurrent,
            unit: unit,
            concurrency: comparison.concurrency,
            showTokens: showTokens
        ) {
            print("  " + line)
        }
        print("")
    }

    /// Fetches 20 URLs from a simulator that fails 30% of requests, and shows every item succeed.
    private func faultInjectedRun() async throws -> Bool {
        let faults: [Fault] = [.serverError, .unavailable, .rateLimited, .drop, .truncate, .malformed]
        let configuration = SimulatorConfiguration(
            latency: .milliseconds(100),
            faultRate: 0.3,
            faults: faults,
            seed: 42,
            retryAfter: .milliseconds(300)
        )
        return try await Simulator.withRunning(configuration) { server in
            print("Fault injection · fetch: 20 URLs, max 5 concurrent, 100 ms latency,")
            print(
                "  30% of requests fail (\(faults.map(\.name).joined(separator: ", "))), up to 8 retries, backoff 0.1 s · 2ⁿ"
            )
            let summary = try await HTTPTransport.withTransport(configuration: .init(maxConnectionsPerHost: 5)) {
                transport in
                let runner = BatchRunner(
                    configuration: .init(
                        maxConcurrent: 5,
                        attemptTimeout: .seconds(5),
                        retry: RetryPolicy(maxRetries: 8, backoff: Backoff(base: .milliseconds(100), cap: .seconds(2)))
                    ),
                    random: .seeded(42)
                )
                return try await runner.collect(
                    (1...20).map { FetchRequest(url: server.postURL($0)) },
                    operation: URLFetcher(transport: transport)
                ).summary
            }
            for line in SummaryText.lines(summary, unit: "URLs", concurrency: 5, showTokens: false) {
                print("  " + line)
            }
            let served = server.stats.snapshot()
            let faultsServed = served.byStatus.filter { $0.key != "200" }.sorted { $0.key < $1.key }
            let breakdown = faultsServed.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ")
            print(
                "  The simulator answered \(served.requests) requests, \(faultsServed.reduce(0) { $0 + $1.value }) of them "
                    + "with a fault\(breakdown.isEmpty ? "" : " (\(breakdown))")."
            )
            print(summary.allSucceeded ? "  Every item succeeded." : "  \(summary.failed) items failed.")
            return summary.allSucceeded
        }
    }

    /// Embeds 2,000 texts packed 500 to a request against a simulator limited to 60 requests a
    /// minute: a limit that would hold one text per request to one a second.
    private func embeddingsRun() async throws -> Bool {
        let configuration = SimulatorConfiguration(latency: .milliseconds(100), requestsPerMinute: 60)
        return try await Simulator.withRunning(configuration) { server in
            print("\nEmbeddings: 2,000 texts against a server limited to 60 requests/min, packed 500 to a request")
            var packer = EmbeddingPacker(limits: .init(maxInputs: 500))
            var packs: [EmbeddingPack] = []
            for index in 1...2000 {
                if let pack = packer.add(EmbeddingInput(id: String(index), text: "demo text number \(index)")) {
                    packs.append(pack)
                }
            }
            if let last = packer.flush() { packs.append(last) }
            let (results, summary) = try await HTTPTransport.withTransport(
                configuration: .init(maxConnectionsPerHost: 4)
            ) {
                transport in
                let client = EmbeddingsClient(
                    configuration: .init(api: .init(baseURL: server.baseURL), dimensions: 64),
                    transport: transport
                )
                let runner = BatchRunner(
                    configuration: .init(
                        maxConcurrent: 4,
                        attemptTimeout: .seconds(10),
                        pacing: RateLimits(requestsPerMinute: 60)
                    )
                )
                return try await runner.collect(packs, operation: client)
            }
            let texts = zip(packs, results).filter { $0.1.isSuccess }.reduce(0) { $0 + $1.0.inputs.count }
            print(
                "  \(texts) texts embedded in \(summary.requests) requests, \(SummaryText.format(summary.wallSeconds, digits: 1)) s, "
                    + "\(summary.tokens.total) tokens, est. \(SummaryText.cost(summary)); one text per request would take "
                    + "\(2000 / 60) min at this limit."
            )
            return summary.allSucceeded
        }
    }
}
