import ArgumentParser
import Foundation
import PacerCore
import PacerJobs
import PacerOpenAI

/// The wire format a command speaks.
enum Provider: String, ExpressibleByArgument, CaseIterable, Sendable {
    /// OpenAI's API and every server compatible with it.
    case openai
    /// Anthropic's Messages API.
    case anthropic
}

/// The options of every command that calls an OpenAI-compatible API (`chat`, `batch`): where,
/// with which key, at how many tokens a minute, at what prices.
struct APIOptions: ParsableArguments {
    @Option(help: "API root including its version (default: $OPENAI_BASE_URL or https://api.openai.com/v1).")
    var baseURL: String?

    @Option(
        help: ArgumentHelp(
            "The API's wire format: openai or anthropic. (default: openai; pacer batch tells from the input's first line)",
            discussion:
                "anthropic: Claude's Messages API, the key from ANTHROPIC_API_KEY (sent as x-api-key, with anthropic-version), the root from --base-url or ANTHROPIC_BASE_URL (default https://api.anthropic.com; /v1 is added when missing)."
        )
    )
    var provider: Provider?

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

    @Option(
        help:
            "Stop sending before this run's estimated spend (finished requests, retries the server may have billed, and those in flight at their most) would pass this many USD. Per run: a rerun continues and spends up to its own cap. Models without a price are not counted (a warning names them)."
    )
    var maxCost: Double?

    @Flag(help: "Read and check the input, print the estimated tokens and cost per model, and send nothing.")
    var dryRun = false

    @Flag(
        help:
            "Azure OpenAI: the resource from --base-url or AZURE_OPENAI_ENDPOINT, the key from AZURE_OPENAI_API_KEY (sent as api-key); with --api-version (or OPENAI_API_VERSION) the deployment paths (the deployment is the model), without it Azure's /openai/v1 API."
    )
    var azure = false

    @Option(help: "Azure's api-version (default: $OPENAI_API_VERSION).")
    var apiVersion: String?

    func validate() throws {
        if let maxCost, !(maxCost > 0) { throw ValidationError("--max-cost must be a positive number of USD") }
        try NumberCheck.within(maxCost, "--max-cost", 0...1e12)
        try NumberCheck.rate(tpm, "--tpm")
        guard (priceIn == nil) == (priceOut == nil) else {
            throw ValidationError("--price-in and --price-out go together")
        }
        try NumberCheck.within(priceIn, "--price-in", 0...1e9)
        try NumberCheck.within(priceOut, "--price-out", 0...1e9)
        if provider == .anthropic, azure {
            throw ValidationError("--azure reaches OpenAI's API; it does not go with --provider anthropic")
        }
    }

    /// How to reach the API: the root and the key (from `--api-key-file` or `OPENAI_API_KEY`,
    /// required unless the root is on this machine or this is a `--dry-run`), `--header`s, and
    /// with `--azure` Azure OpenAI as openai-python's `AzureOpenAI` reaches it.
    ///
    /// - Parameter keyOptional: No key is needed (`--routes`: each deployment has its own).
    func access(
        run: RunOptions,
        environment: [String: String],
        provider: Provider? = nil,
        keyOptional: Bool = false
    ) throws -> APIAccess {
        try Self.access(
            baseURL: baseURL,
            provider: provider ?? self.provider ?? .openai,
            azure: azure,
            apiVersion: apiVersion,
            keyOptional: dryRun || keyOptional,
            apiKeyFile: run.apiKeyFile,
            headers: run.headerFields,
            environment: environment
        )
    }

    /// How to reach the API, from flags given one by one (for commands without these options).
    static func access(
        baseURL: String?,
        provider: Provider = .openai,
        azure: Bool = false,
        apiVersion: String? = nil,
        keyOptional: Bool = false,
        apiKeyFile: String?,
        headers: [String: String],
        environment: [String: String]
    ) throws -> APIAccess {
        func variable(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        let keyVariable =
            provider == .anthropic ? "ANTHROPIC_API_KEY" : azure ? "AZURE_OPENAI_API_KEY" : "OPENAI_API_KEY"
        var base: String
        var version: String?
        if provider == .anthropic {
            // Anthropic's SDKs take the root without the version; Pacer's roots carry it.
            base = try Endpoint.baseURL(
                flag: baseURL,
                environment: environment,
                variable: "ANTHROPIC_BASE_URL",
                default: "https://api.anthropic.com"
            )
            while base.hasSuffix("/") { base.removeLast() }
            if !base.hasSuffix("/v1") { base += "/v1" }
        } else if azure {
            guard let endpoint = baseURL ?? variable("AZURE_OPENAI_ENDPOINT") else {
                throw InputError(
                    file: "AZURE_OPENAI_ENDPOINT",
                    message:
                        "is not set; export your resource's endpoint (https://NAME.openai.azure.com) or pass --base-url"
                )
            }
            base = try Endpoint.baseURL(flag: endpoint, environment: environment)
            version = apiVersion ?? variable("OPENAI_API_VERSION")
            // Without a version, Azure's v1 API: the same paths as OpenAI's under /openai/v1.
            if version == nil, !base.contains("/openai/v1") {
                while base.hasSuffix("/") { base.removeLast() }
                base += "/openai/v1"
            }
        } else {
            base = try Endpoint.baseURL(flag: baseURL, environment: environment)
        }
        let key = try apiKeyFile.map(Self.readKey) ?? variable(keyVariable)
        if key == nil, !Endpoint.isLocal(base), !keyOptional {
            throw InputError(
                file: keyVariable,
                message:
                    "is not set; export your key (export \(keyVariable)=...) or pass --api-key-file to call \(base)"
            )
        }
        return APIAccess(
            baseURL: base,
            apiKey: key,
            keyHeader: provider == .anthropic
                ? .anthropic(version: APIAccess.KeyHeader.anthropicVersion) : azure ? .apiKey : .bearer,
            azureAPIVersion: version,
            headers: headers
        )
    }

    /// Sets a job's `--max-cost` guard and `--dry-run` from `estimate` (for jobs that send
    /// each input item as it is).
    func applyCostOptions<Operation, Feed>(
        to job: inout BatchJob<Operation, Feed>,
        estimate: @escaping @Sendable (Operation.Input) -> CostEstimate
    ) where Feed.Input == Operation.Input {
        if let maxCost {
            let unpriced = UnpricedModels(warn: Console.error)
            job.costCap = (maxCost, { unpriced.maxUSD(estimate($0)) })
        }
        if dryRun { job.dryRunEstimate = estimate }
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
}

/// Reading and checking the API root.
enum Endpoint {
    /// The base URL from the flag, the environment, or OpenAI's.
    static func baseURL(
        flag: String?,
        environment: [String: String],
        variable: String = "OPENAI_BASE_URL",
        default fallback: String = "https://api.openai.com/v1"
    ) throws(InputError) -> String {
        let raw = flag ?? environment[variable].flatMap { $0.isEmpty ? nil : $0 } ?? fallback
        guard let url = URL(string: raw), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            url.host?.isEmpty == false
        else {
            throw InputError(
                file: flag == nil ? variable : "--base-url",
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
