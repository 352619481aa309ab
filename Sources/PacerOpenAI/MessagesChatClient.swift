import PacerCore
import PacerJSON

/// Sends `pacer chat`'s prompts to Anthropic's Messages API, one attempt per call, and reads
/// the answers into the same ``ChatResult`` a chat completion gives: the output of
/// `pacer chat --provider anthropic` has the lines of `pacer chat`.
///
/// A prompt's system messages become the request's `system` (Anthropic's conversation holds
/// only user and assistant turns); the text blocks of the answer are its `response`.
public struct MessagesChatClient: BatchOperation {
    /// What to ask for.
    public struct Configuration: Sendable {
        /// The model unless a prompt names one.
        public var model: String
        /// `max_tokens` unless a prompt sets it; the Messages API requires one. Default 1024.
        public var maxTokens: Int
        /// The temperature unless a prompt sets it; `nil` sends none.
        public var temperature: Double?
        /// A system prompt for every request, unless the prompt has one.
        public var systemPrompt: String?

        /// Creates a configuration.
        public init(model: String, maxTokens: Int = 1024, temperature: Double? = nil, systemPrompt: String? = nil) {
            self.model = model
            self.maxTokens = maxTokens
            self.temperature = temperature
            self.systemPrompt = systemPrompt
        }
    }

    /// What to ask for.
    public let configuration: Configuration
    /// The client that sends (its access is Anthropic's).
    public let client: APIClient

    /// Creates a client that sends through `client`.
    public init(configuration: Configuration, client: APIClient) {
        self.configuration = configuration
        self.client = client
    }

    /// The Messages request for `prompt`.
    public func request(for prompt: ChatPrompt) -> APIRequest {
        let chat = ChatCompletionRequest(
            prompt: prompt,
            model: configuration.model,
            maxTokens: prompt.maxTokens ?? configuration.maxTokens,
            temperature: configuration.temperature,
            system: configuration.systemPrompt
        )
        var body: [String: JSONValue] = [
            "model": .string(chat.model),
            "max_tokens": .number(JSONNumber(chat.maxTokens ?? configuration.maxTokens)),
            "messages": .array(
                chat.messages.filter { $0.role != "system" }.map {
                    .object(["role": .string($0.role), "content": .string($0.content)])
                }
            ),
        ]
        let system = chat.messages.filter { $0.role == "system" }.map(\.content)
        if !system.isEmpty { body["system"] = .string(system.joined(separator: "\n\n")) }
        if let temperature = chat.temperature, let number = JSONNumber(temperature) {
            body["temperature"] = .number(number)
        }
        return APIRequest(endpoint: .messages, body: .object(body))
    }

    /// Sends one prompt. Failures are ``APIClient``'s.
    public func attempt(_ item: BatchItem<ChatPrompt>, attempt: Int) async throws -> ChatResult {
        try await send(item.input, timeout: nil)
    }

    /// Makes one attempt whose request, body included, must end within `timeout`.
    public func attempt(_ item: BatchItem<ChatPrompt>, attempt: Int, timeout: Duration) async throws -> ChatResult {
        try await send(item.input, timeout: timeout)
    }

    /// `true`: the request's deadline bounds an attempt.
    public var enforcesTimeout: Bool { true }

    /// The most tokens the request for `prompt` may use.
    public func estimatedTokens(for prompt: ChatPrompt) -> Int {
        client.estimatedTokens(for: request(for: prompt))
    }

    /// What the request for `prompt` may cost.
    public func costEstimate(for prompt: ChatPrompt) -> CostEstimate {
        client.costEstimate(for: request(for: prompt))
    }

    /// The answer kept for this prompt's request in the client's cache.
    public func storedOutput(for prompt: ChatPrompt) async -> ChatResult? {
        guard let answer = await client.storedOutput(for: request(for: prompt)),
            let json = try? JSONValue(parsing: answer.body)
        else { return nil }
        var result = chatResult(answer, json: json, prompt: prompt)
        result.isCached = true
        return result
    }

    private func send(_ prompt: ChatPrompt, timeout: Duration?) async throws -> ChatResult {
        let (response, json) = try await client.exchange(request(for: prompt), timeout: timeout)
        return chatResult(response, json: json, prompt: prompt)
    }

    /// A Messages answer as a chat result: its text blocks joined.
    private func chatResult(_ response: APIResponse, json: JSONValue, prompt: ChatPrompt) -> ChatResult {
        var texts: [String] = []
        if case .array(let blocks)? = json["content"] {
            for block in blocks where block["type"] == .string("text") {
                if case .string(let text)? = block["text"] { texts.append(text) }
            }
        }
        let text = texts.isEmpty ? nil : texts.joined()
        return ChatResult(
            prompt: prompt.text,
            response: text,
            usage: response.usage ?? TokenUsage(),
            model: response.model ?? prompt.model ?? configuration.model,
            costUSD: response.costUSD,
            rateLimit: response.rateLimit,
            requestID: response.requestID,
            message: .object(["role": .string("assistant"), "content": text.map(JSONValue.string) ?? .null])
        )
    }
}
