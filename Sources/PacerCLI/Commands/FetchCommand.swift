import ArgumentParser
import Foundation
import PacerCore
import PacerHTTP

/// `pacer fetch`: one GET per URL, expecting JSON.
struct FetchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch",
        abstract: "GET one JSON URL per line, concurrently, with retries.",
        discussion: "INPUT holds one URL per line, or JSONL lines with \"url\" (and optional \"id\", \"headers\")."
    )

    @OptionGroup var run: RunOptions

    @Option(name: .customLong("header"), help: "A header for every request, as 'Name: value'. Repeatable.")
    var headers: [String] = []

    func validate() throws {
        guard run.outputFormat == .pacer else { throw ValidationError("--output-format batch is for chat; fetch writes pacer lines") }
        guard run.format != .batch else { throw ValidationError("--format batch is for chat; fetch reads text or JSONL lines") }
        guard run.apiKeyFile == nil else { throw ValidationError("--api-key-file is for chat; send a key with --header 'Authorization: Bearer …'") }
        for header in headers where parse(header) == nil {
            throw ValidationError("--header must look like 'Name: value', got '\(header)'")
        }
    }

    func run() async throws {
        var fields = ["Accept": "application/json"]
        for header in headers {
            if let (name, value) = parse(header) { fields[name] = value }
        }
        let status = try await HTTPTransport.withTransport(configuration: .init(maxConnectionsPerHost: run.concurrency)) { transport in
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

    private func parse(_ header: String) -> (String, String)? {
        guard let colon = header.firstIndex(of: ":") else { return nil }
        let name = header[..<colon].trimmingCharacters(in: .whitespaces)
        let value = header[header.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        return name.isEmpty ? nil : (name, value)
    }
}
