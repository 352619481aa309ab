import ArgumentParser
import Foundation
import PacerCore
import PacerHTTP
import PacerJobs

/// `pacer fetch`: one GET per URL, expecting JSON.
struct FetchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch",
        abstract: "GET one JSON URL per line, concurrently, with retries.",
        discussion: "INPUT holds one URL per line, or JSONL lines with \"url\" (and optional \"id\", \"headers\")."
    )

    @OptionGroup var run: RunOptions

    func validate() throws {
        guard run.outputFormat == .pacer else {
            throw ValidationError("--output-format batch is for chat; fetch writes pacer lines")
        }
        guard run.format != .batch else {
            throw ValidationError("--format batch is for chat; fetch reads text or JSONL lines")
        }
        guard run.apiKeyFile == nil else {
            throw ValidationError("--api-key-file is for chat; send a key with --header 'Authorization: Bearer …'")
        }
    }

    func run() async throws {
        let fields = ["Accept": "application/json"].merging(run.headerFields) { $1 }
        let transportConfiguration = try run.transportConfiguration(environment: Environment.current)
        let status = try await HTTPTransport.withTransport(configuration: transportConfiguration) { transport in
            try await BatchJob(
                options: run,
                configuration: run.batchConfiguration(defaultTimeout: 10),
                operation: URLFetcher(transport: transport, headers: fields),
                parser: .fetch,
                unit: "URLs",
                showTokens: false,
                makeLine: { item, result in OutputLine.fetch(result, url: item.input.url) }
            ).run()
        }
        throw status
    }
}
