import Foundation
import PacerCLI
import PacerCore
import PacerHTTP
import PacerJobs
import PacerOpenAI

extension BenchCommand {
    /// The client's CPU for chat answers streamed and not.
    struct StreamingCostResult: Codable {
        var mode: String
        var items: Int
        var outputTokens: Int
        var wallSeconds: Double
        var cpuMicrosecondsPerItem: Double
        var cpuMicrosecondsPerOutputToken: Double
        var failed: Int
    }

    /// 2,000 chat prompts, 32 in flight, against a simulator process of its own that sends
    /// each answer's chunks at once: the client's CPU per item and per output token, with and
    /// without `--stream`.
    func runStreaming() async throws {
        var results: [StreamingCostResult] = []
        for streamed in [false, true] {
            results.append(
                try await median(by: \.cpuMicrosecondsPerOutputToken) { try await streamingRun(streamed: streamed) }
            )
        }
        try printResults(
            results,
            title: "Streaming cost: 2,000 chat answers, 32 in flight, simulator in its own process; client CPU",
            header: ["mode", "items", "output tokens", "wall s", "CPU µs/item", "CPU µs/output token", "failed"]
        ) { result in
            [
                result.mode, String(result.items), String(result.outputTokens),
                SummaryText.format(result.wallSeconds, digits: 2),
                SummaryText.format(result.cpuMicrosecondsPerItem, digits: 0),
                SummaryText.format(result.cpuMicrosecondsPerOutputToken, digits: 2), String(result.failed),
            ]
        }
    }

    private func streamingRun(streamed: Bool) async throws -> StreamingCostResult {
        let count = 2000
        return try await SimulatorProcess.withRunning { simulator in
            try await HTTPTransport.withTransport(configuration: .init(maxConnectionsPerHost: 32)) { transport in
                var configuration = ChatClient.Configuration(baseURL: simulator.rootURL + "/v1", maxTokens: 64)
                configuration.streaming = streamed ? ChatStreaming() : nil
                let client = ChatClient(configuration: configuration, transport: transport)
                let runner = BatchRunner(
                    configuration: BatchConfiguration(maxConcurrent: 32, attemptTimeout: .seconds(30))
                )
                let items = AsyncArray(
                    (0..<count).map { BatchItem(index: $0, id: String($0), input: ChatPrompt("stream cost \($0)")) }
                )
                let cpuBefore = processCPUSeconds()
                let summary = try await runner.run(items, operation: client) { _, _ in }
                let cpu = processCPUSeconds() - cpuBefore
                let tokens = max(1, summary.tokens.completion)
                return StreamingCostResult(
                    mode: streamed ? "--stream" : "plain",
                    items: count,
                    outputTokens: summary.tokens.completion,
                    wallSeconds: summary.wallSeconds,
                    cpuMicrosecondsPerItem: cpu / Double(count) * 1e6,
                    cpuMicrosecondsPerOutputToken: cpu / Double(tokens) * 1e6,
                    failed: summary.failed
                )
            }
        }
    }
}
