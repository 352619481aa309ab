import PacerCore
import PacerHTTP
import PacerOpenAI
import PacerSimulator

/// The reference solutions' "Performance Benchmarks": the same inputs run sequentially (the
/// same engine at concurrency 1, measured, not assumed) and concurrently, against the
/// in-process simulator. Shared by `pacer demo` and `pacer bench`.
package struct SpeedupComparison: Sendable {
    package var job: String
    package var items: Int
    package var concurrency: Int
    package var sequential: BatchSummary
    package var concurrent: BatchSummary

    /// Waves of `concurrency` items the concurrent run needs.
    package var waves: Int { (items + concurrency - 1) / concurrency }
    /// The best possible speedup: items over waves.
    package var idealSpeedup: Double { Double(items) / Double(waves) }
    /// Sequential wall time over concurrent wall time.
    package var speedup: Double { concurrent.wallSeconds > 0 ? sequential.wallSeconds / concurrent.wallSeconds : 0 }
    /// Both runs ended with every item successful.
    package var allSucceeded: Bool { sequential.allSucceeded && concurrent.allSucceeded }

    /// Runs `inputs` at concurrency 1, then at `concurrency`, over one transport.
    static func measure<Operation: BatchOperation>(
        job: String,
        inputs: [Operation.Input],
        concurrency: Int,
        operation: (HTTPTransport) -> Operation
    ) async throws -> SpeedupComparison {
        try await HTTPTransport.withTransport(configuration: .init(maxConnectionsPerHost: concurrency)) { transport in
            let operation = operation(transport)
            let sequential = try await BatchRunner(configuration: .init(maxConcurrent: 1))
                .collect(inputs, operation: operation).summary
            let concurrent = try await BatchRunner(configuration: .init(maxConcurrent: concurrency))
                .collect(inputs, operation: operation).summary
            return SpeedupComparison(
                job: job,
                items: inputs.count,
                concurrency: concurrency,
                sequential: sequential,
                concurrent: concurrent
            )
        }
    }

    /// Exercise 01: 10 chat prompts, at most 3 at a time.
    package static func chat(server: Simulator.Running) async throws -> SpeedupComparison {
        try await measure(
            job: "chat",
            inputs: (1...10).map { ChatPrompt("Prompt \($0): explain async programming in one sentence.") },
            concurrency: 3
        ) { transport in
            ChatClient(
                configuration: .init(baseURL: server.baseURL, model: "gpt-3.5-turbo", maxTokens: 50),
                transport: transport
            )
        }
    }

    /// Exercise 02: 20 URLs, at most 5 at a time.
    package static func fetch(server: Simulator.Running) async throws -> SpeedupComparison {
        try await measure(job: "fetch", inputs: (1...20).map { FetchRequest(url: server.postURL($0)) }, concurrency: 5)
        { transport in
            URLFetcher(transport: transport)
        }
    }
}
