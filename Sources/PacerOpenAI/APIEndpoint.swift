import PacerCore
import PacerHTTP
import PacerJSON

/// One OpenAI API endpoint a request can go to, described by the four things in which the
/// endpoints differ: the path, the token estimate of a request (for tokens-per-minute pacing),
/// where an answer keeps its usage, and how an answer is checked to be whole.
///
/// `pacer batch` routes each OpenAI Batch API line to the endpoint its `url` names, and each
/// Anthropic Message Batch line to ``messages``; ``APIClient`` sends a request body to any of
/// them. Anthropic's Messages API is a case here rather than a client of its own: it is JSON
/// posted to a path, answered with a body that carries its usage, so one client, one
/// response cache and one router serve both APIs; what differs is in this enum and in
/// ``APIAccess/KeyHeader/anthropic(version:)``.
public enum APIEndpoint: String, Sendable, Hashable, CaseIterable, Codable {
    /// `/v1/chat/completions`.
    case chatCompletions = "chat/completions"
    /// `/v1/embeddings`.
    case embeddings
    /// `/v1/completions` (legacy text completions).
    case completions
    /// `/v1/responses`.
    case responses
    /// `/v1/moderations`.
    case moderations
    /// Anthropic's `/v1/messages`: Claude's Messages API, reached with
    /// ``APIAccess/KeyHeader/anthropic(version:)``.
    case messages

    /// The endpoints an OpenAI Batch API line may name: every one but Anthropic's.
    public static let openAICases: [APIEndpoint] = allCases.filter { $0 != .messages }

    /// The path below the API root (which includes the version, e.g. `…/v1`).
    public var path: String { rawValue }

    /// The path as a Batch API line writes it: `/v1/embeddings`.
    public var batchURL: String { "/v1/" + rawValue }

    /// The endpoint a Batch API line's `url` names: `/v1/embeddings`, or without the version
    /// (`/embeddings`, as some servers' files have it); `nil` for any other.
    ///
    /// The version in the line is not added to the API root's: `/v1/embeddings` against
    /// `https://api.openai.com/v1` posts to `https://api.openai.com/v1/embeddings`.
    public init?(batchURL url: String) {
        // The usual spelling, looked up whole: no substrings for every line of a file.
        if let endpoint = Self.byBatchURL[url] {
            self = endpoint
            return
        }
        var path = Substring(url)
        if let query = path.firstIndex(of: "?") { path = path[..<query] }
        while path.hasPrefix("/") { path = path.dropFirst() }
        if path.hasPrefix("v1/") { path = path.dropFirst(3) }
        while path.hasSuffix("/") { path = path.dropLast() }
        guard let endpoint = Self(rawValue: String(path)), endpoint != .messages else { return nil }
        self = endpoint
    }

    /// Every endpoint by its usual Batch API `url`.
    private static let byBatchURL = [String: APIEndpoint](uniqueKeysWithValues: openAICases.map { ($0.batchURL, $0) })

    /// The URL of this endpoint under an API root such as `https://api.openai.com/v1`.
    public func url(base: String) -> String {
        var base = Substring(base)
        while base.hasSuffix("/") { base = base.dropLast() }
        return base + "/" + path
    }

    /// The output tokens assumed for a request that sets no limit: chat, responses and
    /// messages (whose `max_tokens` the API requires) allow
    /// ``TokenEstimate/defaultCompletionAllowance``; legacy completions default to 16, as the
    /// API does; embeddings and moderations produce none.
    public var defaultOutputAllowance: Int {
        switch self {
        case .chatCompletions, .responses, .messages: TokenEstimate.defaultCompletionAllowance
        case .completions: 16
        case .embeddings, .moderations: 0
        }
    }

    /// The most tokens a request with this body may use, to reserve against a TPM limit:
    /// its input (messages, `system`, `input`, `prompt`, `instructions`) plus the output it allows
    /// (`max_completion_tokens` / `max_tokens` / `max_output_tokens`, or
    /// ``defaultOutputAllowance``). Saturates rather than overflows: the server judges a
    /// limit too large.
    public func estimatedTokens(of body: JSONValue) -> Int {
        let (input, output) = tokenEstimate(of: body)
        return input.saturatingAdd(output)
    }

    /// The estimated input tokens of a request with this body, and the most output tokens it
    /// allows (see ``estimatedTokens(of:)``).
    public func tokenEstimate(of body: JSONValue) -> (input: Int, maxOutput: Int) {
        var input = 0
        var outputs = 1
        switch self {
        case .chatCompletions, .messages:
            if case .array(let messages)? = body["messages"] {
                input = 3
                for message in messages { input = input.saturatingAdd(4 + Self.textTokens(message["content"])) }
            }
            // Anthropic's system prompt is a member of its own: a string or text blocks.
            if self == .messages, let system = body["system"] {
                input = input.saturatingAdd(4 + Self.textTokens(system))
            }
        case .responses:
            // As a conversation: the instructions a system message, a string input a user message.
            input = 3
            if case .string? = body["instructions"] {
                input = input.saturatingAdd(4 + Self.textTokens(body["instructions"]))
            }
            switch body["input"] {
            case .string?: input = input.saturatingAdd(4 + Self.textTokens(body["input"]))
            case .array(let items)?: for item in items { input = input.saturatingAdd(Self.textTokens(item)) }
            default: break
            }
        case .completions:
            input = Self.textTokens(body["prompt"])
            if case .array(let prompts)? = body["prompt"], prompts.first?.isString == true { outputs = prompts.count }
        case .embeddings, .moderations:
            input = Self.textTokens(body["input"])
        }
        if case .number(let n)? = body["n"], let count = n.int, count > 1 {
            outputs = outputs.saturatingMultiply(count)
        }
        let limit =
            ["max_completion_tokens", "max_tokens", "max_output_tokens"].lazy.compactMap { body[$0]?.int }.first
            ?? defaultOutputAllowance
        return (input, max(0, limit).saturatingMultiply(outputs))
    }

    /// The tokens an answer reports, in this endpoint's shape: `prompt_tokens` /
    /// `completion_tokens` (chat, completions, embeddings), `input_tokens` / `output_tokens`
    /// (responses, messages; Anthropic's prompt-cache reads and writes count as input);
    /// `nil` when the answer has no usage (moderations, or a server that omits it).
    public func usage(in body: JSONValue) -> TokenUsage? {
        guard case .object(let usage)? = body["usage"] else { return nil }
        let (inputKey, outputKey) =
            self == .responses || self == .messages
            ? ("input_tokens", "output_tokens") : ("prompt_tokens", "completion_tokens")
        var input = usage[inputKey]?.int ?? 0
        if self == .messages {
            for cached in ["cache_creation_input_tokens", "cache_read_input_tokens"] {
                input = input.saturatingAdd(usage[cached]?.int ?? 0)
            }
        }
        let output = usage[outputKey]?.int ?? 0
        let total = usage["total_tokens"]?.int ?? input.saturatingAdd(output)
        return TokenUsage(prompt: input, completion: output, total: total)
    }

    /// Whether a 2xx answer's parsed body is this endpoint's answer; `nil` when it is, else
    /// what is missing. A body without it was cut off or is not the API's (a proxy's page):
    /// worth asking again.
    public func problem(with body: JSONValue, request: JSONValue) -> String? {
        let field = answerField
        guard case .array(let items)? = body[field] else {
            return "not a \(path) answer: no \"\(field)\" array"
        }
        if self == .embeddings, let inputs = Self.inputCount(request["input"]), items.count != inputs {
            return "\(items.count) embeddings for \(inputs) inputs"
        }
        return nil
    }

    /// The member of a 2xx body that holds the answer, an array: `choices`, `data`, `output`,
    /// `results` or `content`.
    public var answerField: String {
        switch self {
        case .chatCompletions, .completions: "choices"
        case .embeddings: "data"
        case .responses: "output"
        case .moderations: "results"
        case .messages: "content"
        }
    }

    /// The number of inputs of an embeddings or moderations `input`: 1 for a string or a
    /// token array, the count for an array of strings or of token arrays.
    static func inputCount(_ input: JSONValue?) -> Int? {
        switch input {
        case .string?: return 1
        case .array(let items)?:
            if case .number? = items.first { return 1 }
            return items.count
        default: return nil
        }
    }

    /// The estimated tokens of a request's text: a string; an array of strings, token ids or
    /// content parts (`{"type": "text"/"input_text", "text"}`); messages or input items with
    /// `content`. Images and files are not counted (the server's usage settles them).
    static func textTokens(_ value: JSONValue?) -> Int {
        switch value {
        case .string(let text)?: return TokenEstimate.text(text)
        case .array(let items)?:
            var sum = 0
            for item in items {
                switch item {
                case .number: sum = sum.saturatingAdd(1)
                case .array(let tokens): sum = sum.saturatingAdd(tokens.count)
                default: sum = sum.saturatingAdd(textTokens(item))
                }
            }
            return sum
        case .object(let object)?:
            if let text = object["text"] { return textTokens(text) }
            if let content = object["content"] { return 4 + textTokens(content) }
            return 0
        default: return 0
        }
    }
}

extension JSONValue {
    /// The value as an `Int`, when it is a number that is one exactly.
    var int: Int? {
        if case .number(let number) = self { return number.int }
        return nil
    }

    /// Whether the value is a string.
    var isString: Bool {
        if case .string = self { return true }
        return false
    }
}

extension Int {
    /// `self + other`, or `Int.max` when that overflows.
    func saturatingAdd(_ other: Int) -> Int {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? .max : sum
    }

    /// `self × other`, or `Int.max` when that overflows.
    func saturatingMultiply(_ other: Int) -> Int {
        let (product, overflow) = multipliedReportingOverflow(by: other)
        return overflow ? .max : product
    }
}
