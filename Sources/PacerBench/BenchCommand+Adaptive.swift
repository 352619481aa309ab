import ArgumentParser
import Foundation
import PacerCLI
import PacerCore
import PacerHTTP
import PacerJobs
import PacerOpenAI
import PacerSimulator

extension BenchCommand {
    /// One run of `pacer chat`'s engine against a simulator playing a self-hosted server.
    struct AdaptiveResult: Codable {
        var scenario: String
        var concurrency: String
        var items: Int
        var failed: Int
        var wallSeconds: Double
        var itemsPerSecond: Double
        var outputTokensPerSecond: Double
        var latencyP50Ms: Double
        /// Attempts answered 503 or 429.
        var refused: Int
        var attempts: Int
        /// Items in flight, time-averaged from the first 10% done to the end.
        var meanInFlight: Double
        /// The limit at the end (auto only).
        var settledLimit: Int?
        /// After the slots halve: seconds until the limit is at most 1.5 × the new slots.
        var followSeconds: Double?
    }

    /// Auto against fixed concurrency on `--slots 8 --token-ms 20` (the best fixed found by
    /// `pacer probe`'s sweep), then auto against one slot, a bounded queue and halving slots.
    func runAdaptive() async throws {
        let eight = SimulatorSlots(count: 8, tokenLatency: .milliseconds(20))
        var best: ProbeReport?
        try await Simulator.withRunning(SimulatorConfiguration(slots: eight)) { server in
            try await HTTPTransport.withTransport(configuration: .init(maxConnectionsPerHost: 64)) { transport in
                let sweep = ProbeSweep(
                    client: ChatClient(configuration: .init(baseURL: server.baseURL), transport: transport),
                    stepDuration: .seconds(10),
                    timeout: .seconds(60),
                    prompt: "bench probe"
                )
                best = await sweep.run(levels: ProbeReport.concurrencies(upTo: 64)) { _, _ in }
            }
        }
        if let best, !json {
            print("pacer probe against --slots 8 --token-ms 20 (10 s steps):\n")
            for line in best.table { print("    " + line) }
            print("    recommended: \(best.recommended.map(String.init) ?? "none")\n")
        }
        var runs: [(scenario: String, slots: SimulatorSlots, prompts: Int, concurrency: String)] =
            ["1", "4", "8", "16", "64", "auto"].map { ("slots 8", eight, 500, $0) }
        if let recommended = best?.recommended, ![1, 4, 8, 16, 64].contains(recommended) {
            runs.append(("slots 8", eight, 500, String(recommended)))
        }
        runs += [
            ("slots 1", SimulatorSlots(count: 1, tokenLatency: .milliseconds(20)), 100, "auto"),
            (
                "slots 8, max-queue 4", SimulatorSlots(count: 8, tokenLatency: .milliseconds(20), maxQueue: 4), 500,
                "auto"
            ),
            (
                "slots 8 halved after 250", SimulatorSlots(count: 8, tokenLatency: .milliseconds(20), halveAfter: 250),
                700, "auto"
            ),
        ]
        var results: [AdaptiveResult] = []
        for run in runs {
            results.append(
                try await median(by: \.itemsPerSecond) {
                    try await adaptiveRun(
                        scenario: run.scenario,
                        slots: run.slots,
                        prompts: run.prompts,
                        concurrency: run.concurrency
                    )
                }
            )
        }
        try printResults(
            results,
            title:
                "Adaptive concurrency: `pacer chat` prompts against `pacer simulate --slots N --token-ms 20` (no rate limits)",
            header: [
                "server", "concurrency", "items", "wall s", "items/s", "out tok/s", "p50 ms", "refused/attempts",
                "mean in flight", "limit at end", "follows in",
            ]
        ) { result in
            [
                result.scenario, result.concurrency, "\(result.items - result.failed)/\(result.items)",
                SummaryText.format(result.wallSeconds, digits: 1), SummaryText.format(result.itemsPerSecond, digits: 2),
                SummaryText.format(result.outputTokensPerSecond, digits: 0),
                SummaryText.format(result.latencyP50Ms, digits: 0), "\(result.refused)/\(result.attempts)",
                SummaryText.format(result.meanInFlight, digits: 1), result.settledLimit.map(String.init) ?? "-",
                result.followSeconds.map { SummaryText.format($0, digits: 1) + " s" } ?? "-",
            ]
        }
    }

    /// One batch of `prompts` chat prompts with `--concurrency concurrency` (the CLI's
    /// settings), sampling the items in flight and the limit every 20 ms.
    private func adaptiveRun(
        scenario: String,
        slots: SimulatorSlots,
        prompts: Int,
        concurrency: String
    ) async throws -> AdaptiveResult {
        let options = try RunOptions.parse(["--concurrency", concurrency, "--max-concurrency", "64"])
        let configuration = options.batchConfiguration(defaultTimeout: 60, probeFirst: true)
        return try await Simulator.withRunning(SimulatorConfiguration(slots: slots)) { server in
            try await HTTPTransport.withTransport(
                configuration: .init(maxConnectionsPerHost: configuration.maxConcurrent)
            ) { transport in
                let client = TimedOperation(
                    base: ChatClient(configuration: .init(baseURL: server.baseURL), transport: transport)
                )
                let progress = BatchProgress()
                let clock = ContinuousClock()
                let start = clock.now
                let sampler = Task {
                    var samples: [(seconds: Double, done: Int, inFlight: Int, limit: Int?)] = []
                    while !Task.isCancelled {
                        let snapshot = progress.snapshot
                        samples.append(
                            (
                                start.duration(to: clock.now).pacerSeconds, snapshot.done, snapshot.inFlight,
                                snapshot.concurrencyLimit
                            )
                        )
                        try? await Task.sleep(for: .milliseconds(20))
                    }
                    return samples
                }
                var refused = 0
                let summary = try await BatchRunner(configuration: configuration).run(
                    AsyncArray(
                        (0..<prompts).map { BatchItem(index: $0, id: "\($0)", input: ChatPrompt("adaptive \($0)")) }
                    ),
                    operation: client,
                    progress: progress
                ) { _, result in
                    refused += result.attemptErrors.count { $0.status == 503 || $0.status == 429 }
                }
                sampler.cancel()
                let samples = await sampler.value
                let steady = samples.drop { $0.done < prompts / 10 }
                let meanInFlight =
                    steady.isEmpty ? 0 : Double(steady.map(\.inFlight).reduce(0, +)) / Double(steady.count)
                var follow: Double?
                if let after = slots.halveAfter, client.starts.count > after {
                    let halved = client.starts[after]
                    let target = Int((Double(max(1, slots.count / 2)) * 1.5).rounded(.down))
                    follow = samples.first { $0.seconds >= halved && ($0.limit ?? .max) <= target }
                        .map { $0.seconds - halved }
                }
                return AdaptiveResult(
                    scenario: scenario,
                    concurrency: concurrency,
                    items: summary.total,
                    failed: summary.failed,
                    wallSeconds: summary.wallSeconds,
                    itemsPerSecond: summary.itemsPerSecond,
                    outputTokensPerSecond: summary.outputTokensPerSecond,
                    latencyP50Ms: summary.latency.p50,
                    refused: refused,
                    attempts: summary.requests,
                    meanInFlight: meanInFlight,
                    settledLimit: summary.concurrencyLimit,
                    followSeconds: follow
                )
            }
        }
    }
}
