import Foundation
import NIOCore
import NIOHTTP1
import PacerCore
import PacerHTTP
import PacerJSON

/// What one chat item asks: a conversation, and optional per-item overrides.
public struct ChatPrompt: Sendable, Hashable {
    /// The conversation to complete.
    public var messages: [ChatMessage]
    /// The model for this item, overriding the client's.
    public var model: String?
    /// The most tokens to generate for this item, overriding the client's.
    public var maxTokens: Int?
    /// The temperature for this item, overriding the client's.
    public var temperature: Double?

    /// Creates a prompt from a conversation.
    public init(messages: [ChatMessage], model: String? = nil, maxTokens: Int? = nil, temperature: Double? = nil) {
        self.messages = messages
        self.model = model
        self.maxTokens = maxTokens
        self.temperature = temperature
    }

    /// A single user message.
    public init(_ text: String) {
        self.init(messages: [.user(text)])
    }

    /// The text of the last user message: what the output calls the `prompt`.
    public var text: String {
        messages.last(where: { $0.role == "user" })?.content ?? messages.last?.content ?? ""
    }
}

/// A completed chat item: the answer, its token usage and estimated cost.
public struct ChatResult: MeteredOutput, Hashable {
    /// The prompt's text (the last user message).
    public var prompt: String
    /// The generated answer: the first choice's `content`, or `nil` when the model gave no
    /// text (it refused, or only called tools; see ``refusal``, ``toolCalls`` and ``message``).
    public var response: String?
    /// The first choice's `message` exactly as the server sent it: `content`, `refusal`,
    /// `tool_calls`, and whatever else a server adds (`annotations`, `audio`, …).
    public var message: JSONValue
    /// Tokens as the server reported them.
    public var usage: TokenUsage
    /// The model that answered.
    public var model: String
    /// Estimated cost in USD, or `nil` when the model's price is unknown.
    public var costUSD: Double?
    /// What the response said about the server's rate limits.
    public var rateLimit: RateLimitSnapshot?
    /// The whole completion as the server sent it (for OpenAI Batch API output).
    public var completion: ChatCompletionResponse?
    /// The server's `x-request-id`, if it sent one.
    public var requestID: String?
    /// When the answer was streamed: when its first and last tokens came.
    public var streamTiming: StreamTiming?
    /// Whether the answer came from a ``ResponseCache`` rather than the server.
    public var isCached = false
    /// Whether ``usage`` is Pacer's estimate (a stream that reported none), not the server's.
    public var usageIsEstimated: Bool

    /// Creates a result.
    ///
    /// - Parameters:
    ///   - prompt: The prompt's text (the last user message).
    ///   - response: The first choice's `content`, or `nil` when the model gave no text.
    ///   - usage: Tokens as the server reported them.
    ///   - model: The model that answered.
    ///   - costUSD: Estimated cost in USD, or `nil` when the model's price is unknown.
    ///   - rateLimit: What the response said about the server's rate limits.
    ///   - completion: The whole completion as the server sent it.
    ///   - requestID: The server's `x-request-id`, if it sent one.
    ///   - message: The first choice's message as sent; by default an assistant message whose
    ///     `content` is `response`.
    ///   - streamTiming: When the answer was streamed: when its first and last tokens came.
    ///   - usageIsEstimated: Whether `usage` is Pacer's estimate, not the server's.
    public init(
        prompt: String,
        response: String?,
        usage: TokenUsage,
        model: String,
        costUSD: Double?,
        rateLimit: RateLimitSnapshot? = nil,
        completion: ChatCompletionResponse? = nil,
        requestID: String? = nil,
        message: JSONValue? = nil,
        streamTiming: StreamTiming? = nil,
        usageIsEstimated: Bool = false
    ) {
        self.prompt = prompt
        self.response = response
        self.message =
            message ?? .object(["role": .string("assistant"), "content": response.map(JSONValue.string) ?? .null])
        self.usage = usage
        self.model = model
        self.costUSD = costUSD
        self.rateLimit = rateLimit
        self.completion = completion
        self.requestID = requestID
        self.streamTiming = streamTiming
        self.usageIsEstimated = usageIsEstimated
    }

    /// The usage, for the batch summary.
    public var tokenUsage: TokenUsage? { usage }

    /// Counted under chat completions and the model that answered.
    public var usageKey: UsageKey? { UsageKey(endpoint: APIEndpoint.chatCompletions.path, model: model) }

    /// Why the model declined to answer (the message's `refusal`), when it did.
    public var refusal: String? {
        if case .string(let text)? = message["refusal"] { return text }
        return nil
    }

    /// The tools the model asked to call (the message's `tool_calls`), as the server sent them.
    public var toolCalls: JSONValue? {
        guard let calls = message["tool_calls"], calls != .null else { return nil }
        return calls
    }
}

/// Sends chat completions to an OpenAI-compatible server, one attempt per call: the reference
/// `ConcurrentOpenAIClient` done right when run by a `BatchRunner`.
///
/// ```swift
/// try await HTTPTransport.withTransport { transport in
///     let client = ChatClient(
///         configuration: .init(baseURL: "https://api.openai.com/v1", apiKey: key, maxTokens: 50),
///         transport: transport
///     )
///     let runner = BatchRunner(configuration: .init(maxConcurrent: 5))
///     let (results, summary) = try await runner.collect(prompts.map(ChatPrompt.init), operation: client)
/// }
/// ```
public struct ChatClient: BatchOperation {
    /// Where to send requests and what to ask for.
    public struct Configuration: Sendable {
        /// How requests reach the API: root, key, headers, Azure's paths.
        public var access: APIAccess
        /// The API root including its version, e.g. `https://api.openai.com/v1`.
        public var baseURL: String {
            get { access.baseURL }
            set { access.baseURL = newValue }
        }
        /// The API key; `nil` sends none (local servers).
        public var apiKey: String? {
            get { access.apiKey }
            set { access.apiKey = newValue }
        }
        /// The default model (with Azure's deployment paths, the deployment). Default `gpt-4o-mini`.
        public var model: String
        /// The default token limit per answer; `nil` leaves it to the server.
        public var maxTokens: Int?
        /// The default temperature; `nil` leaves it to the server.
        public var temperature: Double?
        /// A system message put before every prompt, if any.
        public var systemPrompt: String?
        /// Prices for the cost estimate.
        public var pricing: PricingTable
        /// Stream answers (`stream: true`), with these waits; `nil` for plain answers.
        public var streaming: ChatStreaming?
        /// Where answers are kept and looked up before sending (`--cache`); `nil` keeps none.
        public var cache: ResponseCache?

        /// Creates a configuration.
        ///
        /// - Parameters:
        ///   - baseURL: The API root including its version.
        ///   - apiKey: The API key, or `nil` for none.
        ///   - model: The default model (default `gpt-4o-mini`).
        ///   - maxTokens: The default token limit per answer (default: the server's).
        ///   - temperature: The default temperature (default: the server's).
        ///   - systemPrompt: A system message for every prompt (default none).
        ///   - pricing: Prices for the cost estimate (default: the built-in table).
        public init(
            baseURL: String,
            apiKey: String? = nil,
            model: String = "gpt-4o-mini",
            maxTokens: Int? = nil,
            temperature: Double? = nil,
            systemPrompt: String? = nil,
            pricing: PricingTable = .builtIn
        ) {
            self.init(
                access: APIAccess(baseURL: baseURL, apiKey: apiKey),
                model: model,
                maxTokens: maxTokens,
                temperature: temperature,
                systemPrompt: systemPrompt,
                pricing: pricing
            )
        }

        /// Creates a configuration that reaches the API as `access` says (Azure, a gateway's
        /// headers); the other parameters as in ``init(baseURL:apiKey:model:maxTokens:temperature:systemPrompt:pricing:)``.
        public init(
            access: APIAccess,
            model: String = "gpt-4o-mini",
            maxTokens: Int? = nil,
            temperature: Double? = nil,
            systemPrompt: String? = nil,
            pricing: PricingTable = .builtIn
        ) {
            self.access = access
            self.model = model
            self.maxTokens = maxTokens
            self.temperature = temperature
            self.systemPrompt = systemPrompt
            self.pricing = pricing
        }

        /// The chat-completions endpoint for the default model: `{baseURL}/chat/completions`
        /// (or its Azure deployment path).
        public var completionsURL: String { access.url(for: .chatCompletions, model: model) }
    }

    /// The client's settings.
    public let configuration: Configuration
    /// The shared transport.
    public let transport: HTTPTransport
    let redactor: Redactor
    /// The headers and URL every request shares, worked out once.
    let prepared: PreparedAccess

    /// Creates a client.
    public init(configuration: Configuration, transport: HTTPTransport) {
        self.configuration = configuration
        self.transport = transport
        self.redactor = Redactor(secrets: configuration.access.secrets)
        self.prepared = PreparedAccess(configuration.access)
    }

    /// The request body for a prompt, with the client's defaults and system prompt applied
    /// (and `stream: true` with usage, when the client streams).
    public func request(for prompt: ChatPrompt) -> ChatCompletionRequest {
        var request = ChatCompletionRequest(
            prompt: prompt,
            model: configuration.model,
            maxTokens: configuration.maxTokens,
            temperature: configuration.temperature,
            system: configuration.systemPrompt
        )
        if configuration.streaming != nil {
            request.stream = true
            request.streamOptions = .init(includeUsage: true)
        }
        return request
    }

    /// Sends one chat completion.
    ///
    /// A `200` whose message has `content: null` is a success: a refusal or tool calls are an
    /// answer (paid for), kept in ``ChatResult/refusal``, ``ChatResult/toolCalls`` and
    /// ``ChatResult/message``, never asked again.
    ///
    /// - Throws: An `ItemError`. 401/400/404 are permanent; 429, 5xx, connection errors,
    ///   timeouts and bodies that are not complete JSON or have no `choices` (cut off, a proxy's
    ///   page) are retryable, except a 429 for `insufficient_quota`, which waiting cannot fix.
    ///   A complete JSON body of the wrong shape is a permanent `invalid_response`: asking
    ///   again would pay for the same answer. Messages never contain the key.
    public func attempt(_ item: BatchItem<ChatPrompt>, attempt: Int) async throws -> ChatResult {
        try await send(item, timeout: nil)
    }

    /// Makes one attempt whose request, body included, must end within `timeout`.
    public func attempt(_ item: BatchItem<ChatPrompt>, attempt: Int, timeout: Duration) async throws -> ChatResult {
        try await send(item, timeout: timeout)
    }

    /// `true`: the request's deadline bounds an attempt.
    public var enforcesTimeout: Bool { true }

    /// The answer kept for this prompt's request in ``Configuration/cache`` (whether or not it
    /// was streamed then), read as a live answer is.
    public func storedOutput(for prompt: ChatPrompt) async -> ChatResult? {
        let body = request(for: prompt)
        guard let cache = configuration.cache, let key = cacheKey(of: body, in: cache, counting: true),
            let entry = await cache.entry(for: key),
            var result = try? result(
                of: HTTPResponseData(status: entry.status, headers: HTTPHeaders(), body: entry.body),
                prompt: prompt,
                model: body.model
            )
        else { return nil }
        result.requestID = entry.requestID
        result.isCached = true
        return result
    }

    /// The cache key of a request: its body as `pacer batch` would send it, without the
    /// streaming members, which do not change the answer.
    private func cacheKey(
        of body: ChatCompletionRequest,
        in cache: ResponseCache,
        counting: Bool
    ) -> ResponseCache.Key? {
        var plain = body
        plain.stream = nil
        plain.streamOptions = nil
        guard let json = try? JSONValue(parsing: String(decoding: plain.jsonBytes, as: UTF8.self)) else { return nil }
        return cache.key(endpoint: APIEndpoint.chatCompletions.path, body: json, counting: counting)
    }

    private func send(_ item: BatchItem<ChatPrompt>, timeout: Duration?) async throws -> ChatResult {
        let body = request(for: item.input)
        if let streaming = configuration.streaming {
            // A streamed answer is not kept: the cache holds answers as a plain request gets them.
            return try await sendStreaming(item, body: body, streaming: streaming, timeout: timeout)
        }
        let response = try await prepared.post(
            body.jsonBytes,
            to: .chatCompletions,
            model: body.model,
            over: transport,
            timeout: timeout,
            redactor: redactor
        )
        guard (200...299).contains(response.status) else {
            throw redactor.redact(Self.failure(for: response))
        }
        let answer = try result(of: response, prompt: item.input, model: body.model)
        if let cache = configuration.cache, let key = cacheKey(of: body, in: cache, counting: false) {
            await cache.store(
                .init(status: response.status, requestID: answer.requestID, body: response.body),
                for: key
            )
        }
        return answer
    }

    /// The result of a whole (not streamed) 2xx answer.
    func result(of response: HTTPResponseData, prompt: ChatPrompt, model: String) throws(ItemError) -> ChatResult {
        let (completion, message) = try decode(response, model: model)
        let usage =
            completion.usage.map {
                TokenUsage(prompt: $0.promptTokens, completion: $0.completionTokens, total: $0.totalTokens)
            } ?? TokenUsage()
        let cost =
            configuration.pricing.cost(of: usage, model: completion.model)
            ?? configuration.pricing.cost(of: usage, model: model)
        return ChatResult(
            prompt: prompt.text,
            response: completion.choices[0].message.content,
            usage: usage,
            model: completion.model,
            costUSD: cost,
            rateLimit: RateLimitHeaders.snapshot(from: response.headers),
            completion: completion,
            requestID: response.headers.first(name: "x-request-id"),
            message: message
        )
    }

    /// The completion in a 2xx body, and its first choice's message as sent.
    ///
    /// A body that is not complete JSON, or has no `choices`, was cut off or is not the API's
    /// answer (a proxy's page): retryable. Complete JSON of the wrong shape, or no choice at
    /// all, is the server's answer and would come again: permanent.
    func decode(
        _ response: HTTPResponseData,
        model: String
    ) throws(ItemError) -> (ChatCompletionResponse, JSONValue) {
        func failure(_ problem: String, retryable: Bool) -> ItemError {
            ItemError(
                kind: .invalidResponse,
                status: response.status,
                message: redactor.redact(
                    "\(problem) (\(response.body.readableBytes) bytes): \(HTTPFailure.excerpt(of: response.body, limit: 80))"
                ),
                isRetryable: retryable
            )
        }
        do throws(ChatBodyProblem) {
            return try ChatCompletionResponse.read(response.body, requestedModel: model)
        } catch {
            switch error {
            case .notJSON: throw failure("not a complete chat completion", retryable: true)
            case .notAChatCompletion: throw failure("not a chat completion: no \"choices\"", retryable: true)
            case .shape(let shape):
                throw failure("a chat completion of an unexpected shape: \(shape.message)", retryable: false)
            case .noChoice: throw failure("a chat completion without any choice", retryable: false)
            }
        }
    }

    /// The most tokens a request for `prompt` may use: its estimated prompt tokens plus its
    /// `max_tokens` (or ``TokenEstimate/defaultCompletionAllowance`` when it sets none).
    public func estimatedTokens(for prompt: ChatPrompt) -> Int {
        let request = request(for: prompt)
        // Saturating: `max_tokens` is any Int an input line gives; the server judges it.
        let (sum, overflow) = TokenEstimate.prompt(request.messages)
            .addingReportingOverflow(request.maxTokens ?? TokenEstimate.defaultCompletionAllowance)
        return overflow ? Int.max : sum
    }

    /// The error for a non-2xx answer (see ``OpenAIFailure/error(for:)``).
    static func failure(for response: HTTPResponseData) -> ItemError {
        OpenAIFailure.error(for: response)
    }

    /// Whether a rate-limit message says the request alone exceeds the limit.
    static func isLargerThanLimit(_ message: String) -> Bool {
        OpenAIFailure.isLargerThanLimit(message)
    }
}
