import PacerCore
import PacerHTTP
import PacerJSON

/// One text to embed, with the id its output line carries.
public struct EmbeddingInput: Sendable, Hashable {
    /// The item's id.
    public var id: String
    /// The text.
    public var text: String

    /// Creates an input.
    public init(id: String, text: String) {
        self.id = id
        self.text = text
    }

    /// Its estimated tokens (``TokenEstimate/text(_:)``).
    public var estimatedTokens: Int { TokenEstimate.text(text) }
}

/// Texts sent together in one embeddings request; made by ``EmbeddingPacker``.
public struct EmbeddingPack: Sendable, Hashable {
    /// The texts, in the order of the request's `input`.
    public var inputs: [EmbeddingInput]

    /// Creates a pack.
    public init(_ inputs: [EmbeddingInput]) {
        self.inputs = inputs
    }

    /// The estimated tokens of all its texts.
    public var estimatedTokens: Int { inputs.reduce(0) { $0.saturatingAdd($1.estimatedTokens) } }

    /// The smaller packs to send after the server refused this one as a whole, or `nil` when
    /// a retry cannot help (a single input, or a refusal that is not about the inputs: a bad
    /// key, an unknown model).
    ///
    /// A refusal that names the input (`param: "input[3]"`) isolates it at once; one that
    /// does not halves the pack, so a bad input among `n` stands alone after `log2(n)`
    /// rounds and costs its neighbours nothing.
    /// A refusal that names another parameter (`param: "dimensions"`) is the request's,
    /// not an input's: every part would be refused again, so the pack is not split.
    public func split(after error: ItemError) -> [EmbeddingPack]? {
        guard inputs.count > 1, Self.isAboutTheInputs(error) else { return nil }
        let parameter = Self.refusedParameter(in: error)
        if let parameter, parameter != "input", !parameter.hasPrefix("input[") { return nil }
        if let index = Self.refusedIndex(in: error), inputs.indices.contains(index) {
            var rest = inputs
            let refused = rest.remove(at: index)
            return [EmbeddingPack(rest), EmbeddingPack([refused])]
        }
        let middle = inputs.count / 2
        return [EmbeddingPack(Array(inputs[..<middle])), EmbeddingPack(Array(inputs[middle...]))]
    }

    /// Whether a permanent failure may be caused by some of the inputs: a 400 or 413, or a
    /// 429 saying the request alone is larger than the limit.
    static func isAboutTheInputs(_ error: ItemError) -> Bool {
        guard !error.isRetryable, let status = error.status else { return false }
        return status == 400 || status == 413 || (status == 429 && OpenAIFailure.isLargerThanLimit(error.message))
    }

    /// The index in `param: "input[i]"` of an OpenAI error body, if the error names one.
    static func refusedIndex(in error: ItemError) -> Int? {
        guard let param = refusedParameter(in: error), param.hasPrefix("input["), param.hasSuffix("]")
        else { return nil }
        return Int(param.dropFirst(6).dropLast())
    }

    /// The `param` an OpenAI error body names, if any.
    static func refusedParameter(in error: ItemError) -> String? {
        guard let body = error.responseBody, let json = try? JSONValue(parsing: body),
            case .string(let param)? = json["error"]?["param"]
        else { return nil }
        return param
    }
}

/// The answer to a pack: one embedding per input, in the pack's order.
public struct EmbeddingPackResult: MeteredOutput, Hashable {
    /// Each input's embedding as the server sent it: an array of numbers, or a base64
    /// string with `encoding_format: "base64"`.
    public var embeddings: [JSONValue]
    /// The request's usage (`prompt_tokens`, `total_tokens`).
    public var usage: TokenUsage?
    /// The model that answered.
    public var model: String
    /// Estimated cost in USD, or `nil` when unknown.
    public var costUSD: Double?
    /// What the response said about the server's rate limits.
    public var rateLimit: RateLimitSnapshot?
    /// Whether the answer came from a ``ResponseCache`` rather than the server.
    public var isCached = false

    /// Creates a result.
    public init(
        embeddings: [JSONValue],
        usage: TokenUsage?,
        model: String,
        costUSD: Double?,
        rateLimit: RateLimitSnapshot? = nil
    ) {
        self.embeddings = embeddings
        self.usage = usage
        self.model = model
        self.costUSD = costUSD
        self.rateLimit = rateLimit
    }

    /// The usage, for the batch summary.
    public var tokenUsage: TokenUsage? { usage }

    /// Counted under embeddings and the model.
    public var usageKey: UsageKey? { UsageKey(endpoint: APIEndpoint.embeddings.path, model: model) }

    /// The request's prompt tokens shared out over its inputs in proportion to their
    /// estimates, so that the shares add up to the server's count exactly.
    public func tokenShares(of pack: EmbeddingPack) -> [Int] {
        let total = usage?.prompt ?? 0
        let estimates = pack.inputs.map { max(1, $0.estimatedTokens) }
        let sum = estimates.reduce(0, +)
        var shares = estimates.map { Int((Double(total) * Double($0) / Double(sum)).rounded(.down)) }
        var left = total - shares.reduce(0, +)
        var index = 0
        while left > 0, !shares.isEmpty {
            shares[index % shares.count] += 1
            left -= 1
            index += 1
        }
        return shares
    }
}

/// Embeds packs of texts with one request each, against `/v1/embeddings` of an
/// OpenAI-compatible server: what `pacer embed` runs.
public struct EmbeddingsClient: BatchOperation {
    /// What to ask for.
    public struct Configuration: Sendable {
        /// Where, with which key and prices.
        public var api: APIClient.Configuration
        /// The model. Default `text-embedding-3-small`.
        public var model: String
        /// The vectors' size, for models that take `dimensions`; `nil` for the model's own.
        public var dimensions: Int?
        /// `float` (the default, `nil`) or `base64`.
        public var encodingFormat: String?

        /// Creates a configuration.
        public init(
            api: APIClient.Configuration,
            model: String = "text-embedding-3-small",
            dimensions: Int? = nil,
            encodingFormat: String? = nil
        ) {
            self.api = api
            self.model = model
            self.dimensions = dimensions
            self.encodingFormat = encodingFormat
        }
    }

    /// The client's settings.
    public let configuration: Configuration
    private let client: APIClient
    /// With `--routes`: each pack goes to a deployment of the model instead.
    private let routed: RoutedClient?

    /// Creates a client; with `routed`, each pack is sent to a deployment of the model
    /// (`pacer embed --routes`).
    public init(configuration: Configuration, transport: HTTPTransport, routed: RoutedClient? = nil) {
        self.configuration = configuration
        self.client = APIClient(configuration: configuration.api, transport: transport)
        self.routed = routed
    }

    /// The request body for a pack.
    public func request(for pack: EmbeddingPack) -> APIRequest {
        var body: [String: JSONValue] = [
            "model": .string(configuration.model),
            "input": .array(pack.inputs.map { .string($0.text) }),
        ]
        if let dimensions = configuration.dimensions { body["dimensions"] = .number(JSONNumber(dimensions)) }
        if let format = configuration.encodingFormat { body["encoding_format"] = .string(format) }
        return APIRequest(endpoint: .embeddings, body: .object(body))
    }

    /// Sends one pack.
    ///
    /// - Throws: An `ItemError` as ``APIClient`` classifies them; an answer without one
    ///   embedding per input is a retryable `invalid_response`. A refusal keeps the server's
    ///   body, so that ``EmbeddingPack/split(after:)`` can isolate the input it names.
    public func attempt(_ item: BatchItem<EmbeddingPack>, attempt: Int) async throws -> EmbeddingPackResult {
        try await send(item.input, timeout: nil)
    }

    /// Makes one attempt whose request, body included, must end within `timeout`.
    public func attempt(
        _ item: BatchItem<EmbeddingPack>,
        attempt: Int,
        timeout: Duration
    ) async throws -> EmbeddingPackResult {
        try await send(item.input, timeout: timeout)
    }

    /// `true`: the request's deadline bounds an attempt.
    public var enforcesTimeout: Bool { true }

    /// Sends a pack's request to the server, or through the routes to a deployment of its
    /// model; returns the answer and its body parsed whole.
    private func exchange(_ request: APIRequest, timeout: Duration?) async throws -> (APIResponse, JSONValue) {
        guard let routed else { return try await client.exchange(request, timeout: timeout) }
        let item = BatchItem(index: 0, id: "", input: request)
        let answer =
            if let timeout {
                try await routed.attempt(item, attempt: 1, timeout: timeout)
            } else {
                try await routed.attempt(item, attempt: 1)
            }
        guard let json = try? JSONValue(parsing: answer.body) else {
            throw ItemError(
                kind: .invalidResponse,
                status: answer.status,
                message: "not a complete embeddings answer",
                isRetryable: true
            )
        }
        return (answer, json)
    }

    /// The pack's estimated input tokens (embeddings produce none).
    public func estimatedTokens(for pack: EmbeddingPack) -> Int { pack.estimatedTokens }

    /// The answer kept for this pack's request in the cache (`--cache`: the same texts,
    /// packed the same way, for the same model and settings), read as a live answer is.
    public func storedOutput(for pack: EmbeddingPack) async -> EmbeddingPackResult? {
        let request = request(for: pack)
        let kept =
            if let routed { await routed.storedOutput(for: request) } else { await client.storedOutput(for: request) }
        guard let answer = kept, let json = try? JSONValue(parsing: answer.body),
            var result = try? result(of: answer, json: json, pack: pack)
        else { return nil }
        result.isCached = true
        return result
    }

    private func send(_ pack: EmbeddingPack, timeout: Duration?) async throws -> EmbeddingPackResult {
        let (answer, json) = try await exchange(request(for: pack), timeout: timeout)
        return try result(of: answer, json: json, pack: pack)
    }

    /// The pack's result from an answer and its body.
    private func result(of answer: APIResponse, json: JSONValue, pack: EmbeddingPack) throws -> EmbeddingPackResult {
        var embeddings = [JSONValue?](repeating: nil, count: pack.inputs.count)
        if case .array(let data)? = json["data"] {
            for (position, element) in data.enumerated() {
                let index = element["index"]?.int ?? position
                if embeddings.indices.contains(index) { embeddings[index] = element["embedding"] }
            }
        }
        guard embeddings.allSatisfy({ $0 != nil }) else {
            throw ItemError(
                kind: .invalidResponse,
                status: answer.status,
                message: "an embeddings answer without an embedding for every input",
                isRetryable: true,
                rateLimit: answer.rateLimit
            )
        }
        return EmbeddingPackResult(
            embeddings: embeddings.compactMap { $0 },
            usage: answer.usage,
            model: answer.model ?? configuration.model,
            costUSD: answer.costUSD,
            rateLimit: answer.rateLimit
        )
    }
}
