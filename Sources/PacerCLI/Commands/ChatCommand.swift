import ArgumentParser
import Foundation
import PacerCore
import PacerHTTP
import PacerOpenAI

/// `pacer chat`: one chat completion per prompt, against any OpenAI-compatible server.
struct ChatCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat",
        abstract: "Send one chat completion per prompt to an OpenAI-compatible API.",
        discussion: """
            INPUT holds one prompt per line, or JSONL lines with "prompt" or "messages" (and \
            optional "id", "model", "max_tokens", "temperature"). The key is read from \
            OPENAI_API_KEY; the API root from --base-url or OPENAI_BASE_URL.
            """
    )

    @OptionGroup var run: RunOptions

    @Option(help: "API root including its version (default: $OPENAI_BASE_URL or https://api.openai.com/v1).")
    var baseURL: String?

    @Option(help: "Tokens per minute to pace at (default: the server's x-ratelimit-limit-tokens, if it sends one).")
    var tpm: Double?

    @Option(
        help:
            "A JSON file of prices per model ({\"model\": {\"input_per_million\": 0.15, \"output_per_million\": 0.6}}), over the built-in table."
    )
    var prices: String?

    @Option(help: "USD per 1M prompt tokens, for every model (with --price-out).")
    var priceIn: Double?

    @Option(help: "USD per 1M completion tokens, for every model (with --price-in).")
    var priceOut: Double?

    @Option(help: "Model to use unless a line names one.")
    var model: String = "gpt-4o-mini"

    @Option(help: "Most tokens per answer (default: the server's).")
    var maxTokens: Int?

    @Option(help: "Sampling temperature (default: the server's).")
    var temperature: Double?

    @Option(help: "A system message put before every prompt.")
    var system: String?

    func validate() throws {
        if let maxTokens, maxTokens < 1 { throw ValidationError("--max-tokens must be at least 1, got \(maxTokens)") }
        if let temperature, !(0...2).contains(temperature) {
            throw ValidationError("--temperature must be within 0...2")
        }
        if let tpm, !(tpm > 0) { throw ValidationError("--tpm must be a positive number, got \(tpm)") }
        guard (priceIn == nil) == (priceOut == nil) else {
            throw ValidationError("--price-in and --price-out go together")
        }
        if let priceIn, let priceOut, !(priceIn >= 0 && priceOut >= 0) {
            throw ValidationError("prices must not be negative")
        }
    }

    /// The built-in prices, with `--prices` and `--price-in/--price-out` over them.
    func pricing() throws -> PricingTable {
        var table = PricingTable.builtIn
        if let prices {
            guard let data = FileManager.default.contents(atPath: prices) else {
                throw InputError(file: prices, message: "cannot read the prices file")
            }
            do {
                table = table.merging(try PricingTable(json: data))
            } catch {
                throw InputError(
                    file: prices,
                    message:
                        #"not a prices file; expected {"model": {"input_per_million": 0.15, "output_per_million": 0.6}, …}"#
                )
            }
        }
        if let priceIn, let priceOut {
            table.everyModel = ModelPrice(inputPerMillion: priceIn, outputPerMillion: priceOut)
        }
        return table
    }

    /// The key in `path`: its first line, trimmed.
    static func readKey(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw InputError(file: path, message: "cannot read the API key file")
        }
        let key =
            String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).first.map {
                $0.trimmingCharacters(in: .whitespaces)
            } ?? ""
        guard !key.isEmpty else { throw InputError(file: path, message: "the API key file is empty") }
        return key
    }

    func run() async throws {
        let environment = Environment.current
        let base = try Endpoint.baseURL(flag: baseURL, environment: environment)
        let key =
            try run.apiKeyFile.map(Self.readKey) ?? environment["OPENAI_API_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        if key == nil, !Endpoint.isLocal(base) {
            throw InputError(
                file: "OPENAI_API_KEY",
                message:
                    "is not set; export your key (export OPENAI_API_KEY=...) or pass --api-key-file to call \(base)"
            )
        }
        let clientConfiguration = ChatClient.Configuration(
            baseURL: base,
            apiKey: key,
            model: model,
            maxTokens: maxTokens,
            temperature: temperature,
            systemPrompt: system,
            pricing: try pricing()
        )
        let transportConfiguration = try run.transportConfiguration(environment: environment)
        let status = try await HTTPTransport.withTransport(configuration: transportConfiguration) { transport in
            try await BatchJob(
                options: run,
                // Chat APIs are rate limited: learn the limits from one request before sending a wave.
                configuration: run.batchConfiguration(defaultTimeout: 60, tpm: tpm, probeFirst: true),
                operation: ChatClient(configuration: clientConfiguration, transport: transport),
                parser: .chat,
                unit: "prompts",
                showTokens: true,
                makeLine: { [outputFormat = run.outputFormat] item, result in
                    outputFormat == .batch
                        ? BatchOutputLine(result) as any OutputRecord : OutputLine.chat(result, prompt: item.input.text)
                }
            ).run()
        }
        throw status
    }
}

/// Reading and checking the API root.
enum Endpoint {
    /// The base URL from the flag, the environment, or OpenAI's.
    static func baseURL(flag: String?, environment: [String: String]) throws(InputError) -> String {
        let raw =
            flag ?? environment["OPENAI_BASE_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? "https://api.openai.com/v1"
        guard let url = URL(string: raw), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            url.host?.isEmpty == false
        else {
            throw InputError(
                file: flag == nil ? "OPENAI_BASE_URL" : "--base-url",
                message: "'\(raw)' is not an http(s) URL; expected the API root, e.g. https://api.openai.com/v1"
            )
        }
        return raw
    }

    /// Whether the URL points at this machine (where a key is optional).
    static func isLocal(_ raw: String) -> Bool {
        guard let host = URL(string: raw)?.host?.lowercased() else { return false }
        return host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
    }
}
