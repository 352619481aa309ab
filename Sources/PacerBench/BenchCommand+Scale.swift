import Foundation
import PacerCLI
import PacerCore
import PacerHTTP
import PacerJobs
import PacerOpenAI
import PacerSimulator

/// The throughput sections of `pacer bench`: the reference table, efficiency at scale, and
/// the cost of resilience. Client and simulator share the process here.
extension BenchCommand {
    struct ScaleResult: Codable {
        var section: String
        var items: Int
        var concurrency: Int
        var latencyMs: Int
        var wallSeconds: Double
        var idealSeconds: Double
        var retries: Int
        var failed: Int
        var lost: Int
    }

    /// `count` fetches at `concurrency` against a simulator with `latency` and `faultRate`;
    /// `lost` counts items that ended without a result (it must be 0), `failed` those whose
    /// result is a failure.
    func fetchRun(
        section: String,
        count: Int,
        concurrency: Int,
        latencyMs: Int,
        faultRate: Double = 0
    ) async throws -> ScaleResult {
        let configuration = SimulatorConfiguration(
            latency: .milliseconds(latencyMs),
            faultRate: faultRate,
            seed: 13,
            retryAfter: .milliseconds(100),
            postCount: count
        )
        return try await Simulator.withRunning(configuration) { server in
            try await HTTPTransport.withTransport(configuration: .init(maxConnectionsPerHost: concurrency)) {
                transport in
                let runner = BatchRunner(
                    configuration: BatchConfiguration(
                        maxConcurrent: concurrency,
                        attemptTimeout: .seconds(10),
                        retry: RetryPolicy(maxRetries: 10, backoff: Backoff(base: .milliseconds(50), cap: .seconds(1))),
                        pacing: nil,
                        // A 20% fault rate needs about 25% retries, past the default budget of 20%
                        // plus 10 a second: without this some items would fail "retry budget exhausted".
                        retryBudget: nil
                    )
                )
                let items = AsyncArray(
                    (1...count).map {
                        BatchItem(index: $0 - 1, id: String($0), input: FetchRequest(url: server.postURL($0)))
                    }
                )
                var delivered = 0
                let summary = try await runner.run(items, operation: URLFetcher(transport: transport)) { _, _ in
                    delivered += 1
                }
                let waves = (count + concurrency - 1) / concurrency
                return ScaleResult(
                    section: section,
                    items: count,
                    concurrency: concurrency,
                    latencyMs: latencyMs,
                    wallSeconds: summary.wallSeconds,
                    idealSeconds: Double(waves * latencyMs) / 1000,
                    retries: summary.retries,
                    failed: summary.failed,
                    lost: count - delivered
                )
            }
        }
    }

    struct ReferenceResult: Codable {
        var job: String
        var items: Int
        var concurrency: Int
        var latencyMs: Int
        var sequentialSeconds: Double
        var concurrentSeconds: Double
        var speedup: Double
        var idealSpeedup: Double
    }

    /// The reference table: chat 10 × 3 and fetch 20 × 5 at 500 ms, sequential and concurrent.
    func runReference() async throws {
        var results: [ReferenceResult] = []
        for job in ["chat", "fetch"] {
            results.append(
                try await median(by: \.speedup) {
                    try await Simulator.withRunning(SimulatorConfiguration(latency: .milliseconds(500))) { server in
                        let comparison =
                            job == "chat"
                            ? try await SpeedupComparison.chat(server: server)
                            : try await SpeedupComparison.fetch(server: server)
                        return ReferenceResult(
                            job: job,
                            items: comparison.items,
                            concurrency: comparison.concurrency,
                            latencyMs: 500,
                            sequentialSeconds: comparison.sequential.wallSeconds,
                            concurrentSeconds: comparison.concurrent.wallSeconds,
                            speedup: comparison.speedup,
                            idealSpeedup: comparison.idealSpeedup
                        )
                    }
                }
            )
        }
        try printResults(
            results,
            title:
                "Reference: the reference solutions' benchmarks against the in-process simulator (500 ms per request);\n"
                + "sequential is the same engine at concurrency 1.",
            header: ["job", "items", "concurrency", "sequential s", "concurrent s", "speedup", "ideal"]
        ) { result in
            [
                result.job, String(result.items), String(result.concurrency),
                SummaryText.format(result.sequentialSeconds, digits: 2),
                SummaryText.format(result.concurrentSeconds, digits: 2),
                SummaryText.format(result.speedup, digits: 2) + "×",
                SummaryText.format(result.idealSpeedup, digits: 2) + "×",
            ]
        }
    }

    /// Runs `body` `repetitions` times and keeps the run that is the median by `key`.
    func median<Result>(by key: (Result) -> Double, _ body: () async throws -> Result) async throws -> Result {
        var runs: [Result] = []
        for _ in 0..<repetitions { runs.append(try await body()) }
        return runs.sorted { key($0) < key($1) }[runs.count / 2]
    }

    func runScale() async throws {
        let clean = try await median(by: \.wallSeconds) {
            try await fetchRun(section: "scale: 10,000 URLs", count: 10_000, concurrency: 200, latencyMs: 50)
        }
        let faulty = try await median(by: \.wallSeconds) {
            try await fetchRun(
                section: "resilience: 10,000 URLs, 20% faults",
                count: 10_000,
                concurrency: 200,
                latencyMs: 50,
                faultRate: 0.2
            )
        }
        try printResults(
            [clean, faulty],
            title:
                "Throughput: fetch against the in-process simulator, no pacing; ideal = ceil(items / concurrency) × latency.",
            header: ["run", "concurrency", "latency", "wall s", "ideal s", "wall/ideal", "retries", "failed", "lost"]
        ) { result in
            [
                result.section, String(result.concurrency), "\(result.latencyMs) ms",
                SummaryText.format(result.wallSeconds, digits: 2),
                SummaryText.format(result.idealSeconds, digits: 2),
                SummaryText.format(result.wallSeconds / result.idealSeconds, digits: 3),
                String(result.retries), String(result.failed), String(result.lost),
            ]
        }
        if json { return }
        print(
            "resilience cost: the 20%-fault run took \(SummaryText.format(faulty.wallSeconds / clean.wallSeconds, digits: 2))× the fault-free one.\n"
        )
    }
}
