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
        guard run.outputFormat == .pacer else {
            throw ValidationError("--output-format batch is for chat; fetch writes pacer lines")
        }
        guard run.format != .batch else {
            throw ValidationError("--format batch is for chat; fetch reads text or JSONL lines")
        }
        guard run.apiKeyFile == nil else {
            throw ValidationError("--api-key-file is for chat; send a key with --header 'Authorization: Bearer …'")
        }
        for header in headers {
            try Self.check(header)
        }
    }

    func run() async throws {
        var fields = ["Accept": "application/json"]
        for header in headers {
            if let (name, value) = Self.parse(header) { fields[name] = value }
        }
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

    /// Checks one `--header` at startup: a header AsyncHTTPClient refuses would otherwise fail
    /// every item, and a mistake is cheapest to fix before the batch starts. The value is never
    /// quoted back: it is often a key.
    static func check(_ header: String) throws(ValidationError) {
        guard let (name, value) = parse(header) else {
            throw ValidationError("--header must look like 'Name: value'; one has no name before a ':'")
        }
        guard HTTPHeaderName.isValid(name) else {
            throw ValidationError(
                "--header '\(name): …' has an invalid name: use letters, digits and \(HTTPHeaderName.allowedSymbols) only (no spaces), e.g. 'X-Api-Key: …'"
            )
        }
        guard HTTPHeaderName.isValidValue(value) else {
            throw ValidationError("--header '\(name): …' has a control character or line break in its value")
        }
    }

    private static func parse(_ header: String) -> (String, String)? {
        guard let colon = header.firstIndex(of: ":") else { return nil }
        let name = header[..<colon].trimmingCharacters(in: .whitespaces)
        let value = header[header.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        return name.isEmpty ? nil : (name, value)
    }
}
