import PacerHTTP

/// A complete JSON body that is not a chat completion: which field has the wrong type.
struct ChatShapeError: Error, Sendable {
    /// What is wrong, e.g. `choices[0].message.content is a number, not a string or null`.
    var message: String
}

extension ChatCompletionResponse {
    /// Reads a chat completion from a parsed body.
    ///
    /// Lenient where OpenAI-compatible servers differ: a missing `id`, `object` or `created`
    /// gets a default, a missing `model` is the one requested, a missing `usage` is `nil`,
    /// `content` may be `null` or absent (a refusal, tool calls). Strict about types: a field
    /// that is present with the wrong type is an error, since asking again will not change it.
    ///
    /// - Parameters:
    ///   - json: The parsed body.
    ///   - requestedModel: The model the request named, for a body that names none.
    /// - Throws: ``ChatShapeError`` naming the first field of the wrong type.
    init(json: JSONValue, requestedModel: String) throws(ChatShapeError) {
        guard case .object(let root) = json else {
            throw ChatShapeError(message: "the body is \(json.typeName), not an object")
        }
        guard case .array(let choices)? = root["choices"] else {
            throw ChatShapeError(message: "\"choices\" is not an array")
        }
        self.init(
            id: try Self.string(root["id"], at: "id") ?? "",
            object: try Self.string(root["object"], at: "object") ?? "chat.completion",
            created: try Self.integer(root["created"], at: "created") ?? 0,
            model: try Self.string(root["model"], at: "model") ?? requestedModel,
            choices: try choices.enumerated().map { (offset, choice) throws(ChatShapeError) in
                try Self.choice(choice, offset: offset)
            },
            usage: try Self.usage(root["usage"])
        )
    }

    private static func choice(_ json: JSONValue, offset: Int) throws(ChatShapeError) -> Choice {
        let path = "choices[\(offset)]"
        guard case .object(let choice) = json else {
            throw ChatShapeError(message: "\(path) is \(json.typeName), not an object")
        }
        guard case .object(let message)? = choice["message"] else {
            throw ChatShapeError(
                message: "\(path).message is \(choice["message"]?.typeName ?? "missing"), not an object"
            )
        }
        let toolCalls = message["tool_calls"].flatMap { $0 == .null ? nil : $0 }
        return Choice(
            index: try integer(choice["index"], at: "\(path).index") ?? offset,
            message: Message(
                role: try string(message["role"], at: "\(path).message.role") ?? "assistant",
                content: try string(message["content"], at: "\(path).message.content"),
                refusal: try string(message["refusal"], at: "\(path).message.refusal"),
                toolCalls: toolCalls
            ),
            finishReason: try string(choice["finish_reason"], at: "\(path).finish_reason")
        )
    }

    private static func usage(_ json: JSONValue?) throws(ChatShapeError) -> Usage? {
        guard let json, json != .null else { return nil }
        guard case .object(let usage) = json else {
            throw ChatShapeError(message: "usage is \(json.typeName), not an object")
        }
        let prompt = try integer(usage["prompt_tokens"], at: "usage.prompt_tokens") ?? 0
        let completion = try integer(usage["completion_tokens"], at: "usage.completion_tokens") ?? 0
        let total =
            try integer(usage["total_tokens"], at: "usage.total_tokens")
            ?? prompt.addingReportingOverflow(completion).partialValue
        return Usage(promptTokens: prompt, completionTokens: completion, totalTokens: total)
    }

    /// A string, or `nil` when absent or `null`.
    private static func string(_ json: JSONValue?, at path: String) throws(ChatShapeError) -> String? {
        switch json {
        case nil, .null?: return nil
        case .string(let text)?: return text
        case let other?: throw ChatShapeError(message: "\(path) is \(other.typeName), not a string or null")
        }
    }

    /// A non-negative integer an `Int` holds exactly, or `nil` when absent or `null`.
    private static func integer(_ json: JSONValue?, at path: String) throws(ChatShapeError) -> Int? {
        switch json {
        case nil, .null?: return nil
        case .number(let number)?:
            guard let value = number.int, value >= 0 else {
                throw ChatShapeError(message: "\(path) is \(number.text.prefix(40)), not a non-negative integer")
            }
            return value
        case let other?: throw ChatShapeError(message: "\(path) is \(other.typeName), not an integer")
        }
    }
}
