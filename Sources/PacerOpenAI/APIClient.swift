import NIOCore
import NIOHTTP1
import PacerCore
import PacerHTTP
import PacerJSON

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One request for any endpoint: where it goes and the JSON body to post, as an OpenAI Batch
/// API line holds it.
public struct APIRequest: Sendable, Hashable {
    /// The endpoint the body is for.
    public var endpoint: APIEndpoint
    /// The request body, sent as it is.
    public var body: JSONValue

    /// Creates a request.
    public init(endpoint: APIEndpoint, body: JSONValue) {
        self.endpoint = endpoint
        self.body = body
    }

    /// The body's `model`, if it names one.
    public var model: String? {
        if case .string(let model)? = body["model"] { return model }
        return nil
    }
}

/// A 2xx answer of any endpoint: its body as the server sent it, and what Pacer reads from it.
public struct APIResponse: MeteredOutput, Hashable {
    /// The endpoint that answered.
    public var endpoint: APIEndpoint
    /// The HTTP status (2xx).
    public var status: Int
    /// The body as the server sent it, as one line of JSON text (line breaks between tokens
    /// removed; nothing else changed).
    public var body: String
    /// The server's `x-request-id` (Anthropic's `request-id`), if it sent one.
    public var requestID: String?
    /// Tokens as the answer reports them, in its endpoint's shape; `nil` when it reports none.
    public var usage: TokenUsage?
    /// The model that answered (the body's `model`, else the request's).
    public var model: String?
    /// Estimated cost in USD, or `nil` when the model's price or the usage is unknown.
    public var costUSD: Double?
    /// What the response said about the server's rate limits.
    public var rateLimit: RateLimitSnapshot?
    /// Whether the answer came from a ``ResponseCache`` rather than the server.
    public var isCached = false

    /// Creates a response.
    public init(
        endpoint: APIEndpoint,
        status: Int,
        body: String,
        requestID: String? = nil,
        usage: TokenUsage? = nil,
        model: String? = nil,
        costUSD: Double? = nil,
        rateLimit: RateLimitSnapshot? = nil
    ) {
        self.endpoint = endpoint
        self.status = status
        self.body = body
        self.requestID = requestID
        self.usage = usage
        self.model = model
        self.costUSD = costUSD
        self.rateLimit = rateLimit
    }

    /// The usage, for the batch summary.
    public var tokenUsage: TokenUsage? { usage }

    /// The summary's breakdown: tokens and cost per endpoint and model.
    public var usageKey: UsageKey? { UsageKey(endpoint: endpoint.path, model: model ?? "unknown") }
}

/// Sends a request body to its endpoint on an OpenAI-compatible server, one attempt per call:
/// what `pacer batch` runs for every line of an OpenAI Batch API file.
///
/// ```swift
/// let client = APIClient(configuration: .init(baseURL: "https://api.openai.com/v1", apiKey: key), transport: transport)
/// let request = APIRequest(endpoint: .embeddings, body: ["model": "text-embedding-3-small", "input": "hello"])
/// let (results, summary) = try await runner.collect([request], operation: client)
/// ```
public struct APIClient: BatchOperation {
    /// Where to send requests.
    public struct Configuration: Sendable {
        /// How requests reach the API: root, key, headers, Azure's paths.
        public var access: APIAccess
        /// The API root including its version, e.g. `https://api.openai.com/v1`.
        public var baseURL: String { access.baseURL }
        /// The API key; `nil` sends none (local servers).
        public var apiKey: String? { access.apiKey }
        /// Prices for the cost estimate.
        public var pricing: PricingTable
        /// Where answers are kept and looked up before sending (`--cache`); `nil` keeps none.
        public var cache: ResponseCache?

        /// Creates a configuration.
        ///
        /// - Parameters:
        ///   - baseURL: The API root including its version.
        ///   - apiKey: The API key, or `nil` for none.
        ///   - pricing: Prices for the cost estimate (default: the built-in table).
        public init(baseURL: String, apiKey: String? = nil, pricing: PricingTable = .builtIn) {
            self.init(access: APIAccess(baseURL: baseURL, apiKey: apiKey), pricing: pricing)
        }

        /// Creates a configuration that reaches the API as `access` says (Azure, a gateway's
        /// headers).
        public init(access: APIAccess, pricing: PricingTable = .builtIn) {
            self.access = access
            self.pricing = pricing
        }
    }

    /// The client's settings.
    public let configuration: Configuration
    /// The shared transport.
    public let transport: HTTPTransport
    private let redactor: Redactor
    /// The headers and URLs every request shares, worked out once.
    private let prepared: PreparedAccess

    /// Creates a client.
    public init(configuration: Configuration, transport: HTTPTransport) {
        self.configuration = configuration
        self.transport = transport
        self.redactor = Redactor(secrets: configuration.access.secrets)
        self.prepared = PreparedAccess(configuration.access)
    }

    /// Sends one request.
    ///
    /// - Throws: An `ItemError`, classified as ``ChatClient`` classifies them: 401/400/404
    ///   permanent; 429, 5xx, connection errors, timeouts retryable (a 429 for
    ///   `insufficient_quota` is not); a 2xx body that is not complete JSON or lacks its
    ///   endpoint's answer (``APIEndpoint/problem(with:request:)``) retryable. An HTTP error
    ///   keeps the server's body and `x-request-id` (`ItemError/responseBody`) for the
    ///   Batch API error file. Messages never contain the key.
    public func attempt(_ item: BatchItem<APIRequest>, attempt: Int) async throws -> APIResponse {
        try await send(item.input, timeout: nil)
    }

    /// Makes one attempt whose request, body included, must end within `timeout`.
    public func attempt(_ item: BatchItem<APIRequest>, attempt: Int, timeout: Duration) async throws -> APIResponse {
        try await send(item.input, timeout: timeout)
    }

    /// `true`: the request's deadline bounds an attempt.
    public var enforcesTimeout: Bool { true }

    /// The answer kept for this request in ``Configuration/cache``, read as a live answer is;
    /// `nil` when there is none, or it does not read as one.
    public func storedOutput(for request: APIRequest) async -> APIResponse? {
        guard let cache = configuration.cache,
            let key = cache.key(endpoint: request.endpoint.path, body: request.body),
            let entry = await cache.entry(for: key),
            var answer = try? read(
                request,
                status: entry.status,
                headers: HTTPHeaders(),
                requestID: entry.requestID,
                body: entry.body,
                wholeJSON: false
            ).response
        else { return nil }
        answer.isCached = true
        return answer
    }

    private func send(_ request: APIRequest, timeout: Duration?) async throws -> APIResponse {
        // The body is written out as the server sent it: read only the members Pacer uses.
        try await exchange(request, timeout: timeout, wholeJSON: false).response
    }

    /// Sends `request`; returns the answer and its parsed body (for clients that read more of
    /// it, such as ``EmbeddingsClient``).
    func exchange(
        _ request: APIRequest,
        timeout: Duration?,
        wholeJSON: Bool = true
    ) async throws -> (response: APIResponse, json: JSONValue) {
        var encoded: [UInt8] = []
        request.body.write(to: &encoded)
        let response = try await prepared.post(
            encoded,
            to: request.endpoint,
            model: request.model,
            over: transport,
            timeout: timeout,
            redactor: redactor
        )
        // OpenAI's `x-request-id`, Anthropic's `request-id`.
        let requestID = response.headers.first(name: "x-request-id") ?? response.headers.first(name: "request-id")
        guard (200...299).contains(response.status) else {
            var error = OpenAIFailure.error(for: response)
            error.responseBody = Self.jsonText(response.body)
            error.requestID = requestID
            throw redactor.redact(error)
        }
        let answer = try read(
            request,
            status: response.status,
            headers: response.headers,
            requestID: requestID,
            body: response.body,
            wholeJSON: wholeJSON
        )
        // Kept only once it reads as the endpoint's answer.
        if let cache = configuration.cache,
            let key = cache.key(endpoint: request.endpoint.path, body: request.body, counting: false)
        {
            await cache.store(.init(status: response.status, requestID: requestID, body: response.body), for: key)
        }
        return answer
    }

    /// A 2xx answer read as the endpoint's: its usage, model and cost.
    ///
    /// - Throws: A retryable `invalid_response` when the body is not a complete answer.
    private func read(
        _ request: APIRequest,
        status: Int,
        headers: HTTPHeaders,
        requestID: String?,
        body: ByteBuffer,
        wholeJSON: Bool
    ) throws -> (response: APIResponse, json: JSONValue) {
        func failure(_ problem: String) -> ItemError {
            ItemError(
                kind: .invalidResponse,
                status: status,
                message: redactor.redact(
                    "\(problem) (\(body.readableBytes) bytes): \(HTTPFailure.excerpt(of: body, limit: 80))"
                ),
                isRetryable: true,
                rateLimit: RateLimitHeaders.snapshot(from: headers)
            )
        }
        guard let json = Self.answer(in: body, endpoint: request.endpoint, whole: wholeJSON) else {
            throw failure("not a complete \(request.endpoint.path) answer")
        }
        if let problem = request.endpoint.problem(with: json, request: request.body) {
            throw failure(problem)
        }
        let usage = request.endpoint.usage(in: json)
        var model = request.model
        if case .string(let answered)? = json["model"] { model = answered }
        var cost = usage.flatMap { usage in
            model.flatMap { configuration.pricing.cost(of: usage, model: $0) }
                ?? request.model.flatMap { configuration.pricing.cost(of: usage, model: $0) }
        }
        // Moderations report no usage, and OpenAI does not charge for them.
        if usage == nil, request.endpoint == .moderations { cost = 0 }
        let answer = APIResponse(
            endpoint: request.endpoint,
            status: status,
            body: Self.oneLine(body),
            requestID: requestID,
            usage: usage,
            model: model,
            costUSD: cost,
            rateLimit: RateLimitHeaders.snapshot(from: headers)
        )
        return (answer, json)
    }

    /// A 2xx body parsed whole, or only as far as Pacer reads it: `model`, `usage`, and the
    /// endpoint's answer array (as that many nulls); `nil` when it is not one whole JSON
    /// value (an object, when not parsed whole).
    static func answer(in body: ByteBuffer, endpoint: APIEndpoint, whole: Bool) -> JSONValue? {
        if whole { return try? JSONValue(parsing: body) }
        guard
            let skim = try? JSONSkim.object(
                in: body,
                keeping: ["model", "usage"],
                counting: endpoint.answerField
            )
        else { return nil }
        var members = skim.members
        if let count = skim.count { members[endpoint.answerField] = .array(Array(repeating: .null, count: count)) }
        return .object(members)
    }

    /// A body as JSON text on one line: the body itself when it is JSON, else the body as a
    /// JSON string (an HTML error page of a proxy).
    static func jsonText(_ body: ByteBuffer) -> String {
        if (try? JSONValue(parsing: body)) != nil { return oneLine(body) }
        var text: [UInt8] = []
        JSONValue.writeString(String(buffer: body), to: &text)
        return String(decoding: text, as: UTF8.self)
    }

    /// A body as one line: JSON allows line breaks only between tokens (inside a string they
    /// are escaped), so dropping every CR and LF byte keeps its meaning.
    static func oneLine(_ body: ByteBuffer) -> String {
        body.withUnsafeReadableBytes { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            // `memchr` reads a word or a vector at a time; an embedding's answer is kilobytes.
            guard let base = raw.baseAddress,
                memchr(base, 0x0A, raw.count) != nil || memchr(base, 0x0D, raw.count) != nil
            else {
                return String(decoding: bytes, as: UTF8.self)
            }
            return String(decoding: bytes.filter { $0 != 0x0A && $0 != 0x0D }, as: UTF8.self)
        }
    }
}

extension BatchOperation where Input == APIRequest {
    /// The most tokens the request may use (``APIEndpoint/estimatedTokens(of:)``): every
    /// operation that sends API requests (``APIClient``, ``RoutedClient``, ``APISender``)
    /// reserves the same.
    public func estimatedTokens(for request: APIRequest) -> Int {
        request.endpoint.estimatedTokens(of: request.body)
    }
}
