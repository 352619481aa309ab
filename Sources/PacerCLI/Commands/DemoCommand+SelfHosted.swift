import Foundation
import PacerCore
import PacerHTTP
import PacerJobs
import PacerOpenAI
import PacerSimulator

extension DemoCommand {
    /// 200 streamed prompts with `--concurrency auto` against a simulated self-hosted server
    /// with 4 slots that streams like llama.cpp: the limit it finds, and time to first token.
    func selfHostedRun() async throws -> Bool {
        let configuration = SimulatorConfiguration(
            slots: SimulatorSlots(count: 4, tokenLatency: .milliseconds(4)),
            llamaQuirks: true,
            cutRate: 0.05
        )
        return try await Simulator.withRunning(configuration) { server in
            print(
                "\nSelf-hosted: 200 prompts, --concurrency auto --stream, against a server with 4 slots at 4 ms a token"
            )
            print("  that streams like llama.cpp (pings, no usage, a running stream cut when another request arrives)")
            var chat = ChatClient.Configuration(baseURL: server.baseURL)
            chat.streaming = ChatStreaming(idleTimeout: .seconds(10))
            let summary = try await HTTPTransport.withTransport(configuration: .init(maxConnectionsPerHost: 32)) {
                transport in
                let runner = BatchRunner(
                    configuration: .init(
                        maxConcurrent: 32,
                        attemptTimeout: .seconds(30),
                        retry: RetryPolicy(maxRetries: 10, backoff: Backoff(base: .milliseconds(20), cap: .seconds(1))),
                        adaptiveConcurrency: AdaptiveConcurrency.Configuration(initial: 4, maximum: 32)
                    )
                )
                return try await runner.collect(
                    (1...200).map { ChatPrompt("self-hosted demo prompt \($0)") },
                    operation: ChatClient(configuration: chat, transport: transport)
                ).summary
            }
            let ttft = summary.streaming?.timeToFirstToken ?? LatencyStats()
            print(
                "  Completed: \(summary.succeeded)/\(summary.total) in \(SummaryText.format(summary.wallSeconds, digits: 1)) s, "
                    + "\(summary.retries) retries (cut streams); the limit settled at \(summary.concurrencyLimit ?? 0) "
                    + "(\(SummaryText.format(summary.effectiveConcurrency, digits: 1)) in flight on average)"
            )
            print(
                "  Time to first token: p50 \(SummaryText.ms(ttft.p50)) · p99 \(SummaryText.ms(ttft.p99)); "
                    + "\(SummaryText.format(summary.outputTokensPerSecond, digits: 0)) output tokens/s"
            )
            return summary.allSucceeded
        }
    }
}
