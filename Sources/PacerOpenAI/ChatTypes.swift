import PacerHTTP
import PacerJSON

/// One message of a chat conversation.
public struct ChatMessage: Sendable, Hashable, Codable {
    /// `system`, `user` or `assistant`.
    public var role: String
    /// The text of the message.
    public var content: String

    /// Creates a message.
    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }

    /// A user message.
    public static func user(_ content: String) -> ChatMessage { ChatMessage(role: "user", content: content) }
    /// A system message.
    public static func system(_ content: String) -> ChatMessage { ChatMessage(role: "system", content: content) }
    /// An assistant message.
    public static func assistant(_ content: String) -> ChatMessage { ChatMessage(role: "assistant", content: content) }
}

/// The body of `POST /v1/chat/completions`.
public struct ChatCompletionRequest: Sendable, Hashable, Codable {
    /// The model, e.g. `gpt-4o-mini`.
    public var model: String
    /// The conversation.
    public var messages: [ChatMessage]
    /// The most tokens to generate.
    public var maxTokens: Int?
    /// Sampling temperature.
    public var temperature: Double?
    /// `true` asks for the answer as Server-Sent Events; `nil` (absent) for a plain answer.
    public var stream: Bool?
    /// With ``stream``: whether the last event reports usage.
    public var streamOptions: StreamOptions?

    /// What a streamed answer should include.
    public struct StreamOptions: Sendable, Hashable, Codable {
        /// Ask for a last chunk with the request's usage.
        public var includeUsage: Bool

        /// Creates stream options.
        public init(includeUsage: Bool) {
            self.includeUsage = includeUsage
        }

        enum CodingKeys: String, CodingKey {
            case includeUsage = "include_usage"
        }
    }

    /// Creates a request.
    public init(
        model: String,
        messages: [ChatMessage],
        maxTokens: Int? = nil,
        temperature: Double? = nil,
        stream: Bool? = nil,
        streamOptions: StreamOptions? = nil
    ) {
        self.model = model
        self.messages = messages
        self.maxTokens = maxTokens
        self.temperature = temperature
        self.stream = stream
        self.streamOptions = streamOptions
    }

    enum CodingKeys: String, CodingKey {
        case model, messages, temperature, stream
        case maxTokens = "max_tokens"
        case streamOptions = "stream_options"
    }

    /// The request for `prompt`: its own model, `max_tokens` and temperature where it gives
    /// them, else these; `system` first unless the prompt has a system message of its own.
    public init(prompt: ChatPrompt, model: String, maxTokens: Int?, temperature: Double?, system: String?) {
        var messages = prompt.messages
        if let system, !messages.contains(where: { $0.role == "system" }) {
            messages.insert(.system(system), at: 0)
        }
        self.init(
            model: prompt.model ?? model,
            messages: messages,
            maxTokens: prompt.maxTokens ?? maxTokens,
            temperature: prompt.temperature ?? temperature
        )
    }
}

/// The body of a successful chat completion.
public struct ChatCompletionResponse: Sendable, Hashable, Codable {
    /// The message a choice carries: text, a refusal, tool calls, or a mix.
    public struct Message: Sendable, Hashable, Codable {
        /// Always `assistant`.
        public var role: String
        /// The text of the answer; `nil` when the model refused or only called tools.
        public var content: String?
        /// Why the model declined to answer, when it did.
        public var refusal: String?
        /// The tools the model asked to call, exactly as the server sent them.
        public var toolCalls: JSONValue?

        /// Creates a message.
        public init(role: String = "assistant", content: String?, refusal: String? = nil, toolCalls: JSONValue? = nil) {
            self.role = role
            self.content = content
            self.refusal = refusal
            self.toolCalls = toolCalls
        }

        enum CodingKeys: String, CodingKey {
            case role, content, refusal
            case toolCalls = "tool_calls"
        }

        /// Encodes `content` always (`null` when absent, as OpenAI does), the others when set.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(role, forKey: .role)
            try container.encode(content, forKey: .content)
            try container.encodeIfPresent(refusal, forKey: .refusal)
            try container.encodeIfPresent(toolCalls, forKey: .toolCalls)
        }
    }

    /// One generated answer.
    public struct Choice: Sendable, Hashable, Codable {
        /// The position of the choice.
        public var index: Int
        /// The generated message.
        public var message: Message
        /// Why generation stopped (`stop`, `length`, …).
        public var finishReason: String?

        /// Creates a choice.
        public init(index: Int, message: Message, finishReason: String?) {
            self.index = index
            self.message = message
            self.finishReason = finishReason
        }

        enum CodingKeys: String, CodingKey {
            case index, message
            case finishReason = "finish_reason"
        }
    }

    /// Token counts as the server reports them.
    public struct Usage: Sendable, Hashable, Codable {
        /// Tokens in the prompt.
        public var promptTokens: Int
        /// Tokens generated.
        public var completionTokens: Int
        /// The sum.
        public var totalTokens: Int

        /// Creates a usage record.
        public init(promptTokens: Int, completionTokens: Int, totalTokens: Int) {
            self.promptTokens = promptTokens
            self.completionTokens = completionTokens
            self.totalTokens = totalTokens
        }

        enum CodingKeys: String, CodingKey {
            case promptTokens = "prompt_tokens"
            case completionTokens = "completion_tokens"
            case totalTokens = "total_tokens"
        }
    }

    /// The completion's id.
    public var id: String
    /// Always `chat.completion`.
    public var object: String
    /// Unix time of creation.
    public var created: Int
    /// The model that answered.
    public var model: String
    /// The answers (one unless `n` was set).
    public var choices: [Choice]
    /// Token counts, when reported.
    public var usage: Usage?

    /// Creates a response.
    public init(
        id: String,
        object: String = "chat.completion",
        created: Int,
        model: String,
        choices: [Choice],
        usage: Usage?
    ) {
        self.id = id
        self.object = object
        self.created = created
        self.model = model
        self.choices = choices
        self.usage = usage
    }
}

/// OpenAI's error body: `{"error": {"message", "type", "param", "code"}}`.
public struct OpenAIErrorBody: Sendable, Hashable, Codable {
    /// The error itself.
    public struct Detail: Sendable, Hashable, Codable {
        /// What went wrong.
        public var message: String
        /// The error type, e.g. `invalid_request_error`.
        public var type: String?
        /// The offending parameter, if any.
        public var param: String?
        /// A machine-readable code, e.g. `invalid_api_key`, `rate_limit_exceeded`, `insufficient_quota`.
        public var code: String?

        /// Creates an error detail.
        public init(message: String, type: String?, param: String? = nil, code: String?) {
            self.message = message
            self.type = type
            self.param = param
            self.code = code
        }
    }

    /// The error.
    public var error: Detail

    /// Creates an error body.
    public init(error: Detail) { self.error = error }
}

/// `GET /v1/models`: the models a server offers.
public struct ModelList: Sendable, Hashable, Codable {
    /// One model.
    public struct Model: Sendable, Hashable, Codable {
        /// The model's name.
        public var id: String
        /// Always `model`.
        public var object: String
        /// Unix time of creation.
        public var created: Int
        /// The owner.
        public var ownedBy: String

        /// Creates a model entry.
        public init(id: String, object: String = "model", created: Int, ownedBy: String) {
            self.id = id
            self.object = object
            self.created = created
            self.ownedBy = ownedBy
        }

        enum CodingKeys: String, CodingKey {
            case id, object, created
            case ownedBy = "owned_by"
        }
    }

    /// Always `list`.
    public var object: String
    /// The models.
    public var data: [Model]

    /// Creates a list.
    public init(object: String = "list", data: [Model]) {
        self.object = object
        self.data = data
    }
}
