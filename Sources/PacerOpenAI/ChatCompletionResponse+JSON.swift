import NIOCore
import PacerHTTP
import PacerJSON

/// A complete JSON body that is not a chat completion: which field has the wrong type.
package struct ChatShapeError: Error, Sendable {
    /// What is wrong, e.g. `choices[0].message.content is a number, not a string or null`.
    var message: String
}

/// Why a 2xx body is no chat completion Pacer can use.
package enum ChatBodyProblem: Error {
    /// Not one whole JSON value: cut off, or not JSON at all (asking again may help).
    case notJSON(JSONParseError)
    /// Whole JSON without a `choices` array: not the API's answer, a proxy's (asking again
    /// may help).
    case notAChatCompletion
    /// A completion with a member of the wrong type: the server's answer, which would come
    /// again.
    case shape(ChatShapeError)
    /// A completion without any choice: also the server's answer.
    case noChoice
}

extension ChatCompletionResponse {
    /// Reads a chat completion straight from a body's bytes, with its first choice's message
    /// exactly as sent.
    ///
    /// Lenient where OpenAI-compatible servers differ: a missing `id`, `object` or `created`
    /// gets a default, a missing `model` is the one requested, a missing `usage` is `nil`,
    /// `content` may be `null` or absent (a refusal, tool calls). Strict about types: a field
    /// that is present with the wrong type is an error, since asking again will not change it.
    /// Only the members Pacer uses are built (no dictionary for the body, its choices or its
    /// usage); the rest is checked for shape and skipped, so that a body cut off anywhere is
    /// still told from a whole one.
    ///
    /// - Throws: ``ChatBodyProblem``; a body that is not whole JSON is
    ///   ``ChatBodyProblem/notJSON(_:)`` whatever else is wrong with it.
    package static func read(
        _ body: ByteBuffer,
        requestedModel: String
    ) throws(ChatBodyProblem) -> (completion: ChatCompletionResponse, message: JSONValue) {
        var fields = Fields()
        var hasChoices = false
        do throws(JSONParseError) {
            try JSONReader.read(body) { (reader: inout JSONReader) throws(JSONParseError) in
                guard reader.kind == .object else { return try reader.skip() }
                try reader.members { (reader: inout JSONReader, key: String) throws(JSONParseError) in
                    switch key {
                    case "id": fields.id = try reader.value()
                    case "object": fields.object = try reader.value()
                    case "created": fields.created = try reader.value()
                    case "model": fields.model = try reader.value()
                    case "choices":
                        hasChoices = reader.kind == .array
                        guard hasChoices else { return try reader.skip() }
                        fields.choices = try readChoices(&reader)
                    case "usage": fields.usage = try readUsage(&reader)
                    default: try reader.skip()
                    }
                }
            }
        } catch {
            throw .notJSON(error)
        }
        guard hasChoices else { throw .notAChatCompletion }
        let completion: ChatCompletionResponse
        do throws(ChatShapeError) {
            completion = try ChatCompletionResponse(fields: fields, requestedModel: requestedModel)
        } catch {
            throw .shape(error)
        }
        // The checks passed: a first choice, if any, is an object with an object `message`.
        guard case .members(_, let message?, _)? = fields.choices.first else { throw .noChoice }
        return (completion, message)
    }

    private static func readChoices(_ reader: inout JSONReader) throws(JSONParseError) -> [Fields.Choice] {
        var choices: [Fields.Choice] = []
        try reader.elements { (reader: inout JSONReader, _: Int) throws(JSONParseError) in
            guard reader.kind == .object else { return choices.append(.other(try reader.value())) }
            var index: JSONValue?
            var message: JSONValue?
            var finishReason: JSONValue?
            try reader.members { (reader: inout JSONReader, key: String) throws(JSONParseError) in
                switch key {
                case "index": index = try reader.value()
                case "message": message = try reader.value()
                case "finish_reason": finishReason = try reader.value()
                default: try reader.skip()
                }
            }
            choices.append(.members(index: index, message: message, finishReason: finishReason))
        }
        return choices
    }

    private static func readUsage(_ reader: inout JSONReader) throws(JSONParseError) -> Fields.Usage {
        guard reader.kind == .object else { return .other(try reader.value()) }
        var prompt: JSONValue?
        var completion: JSONValue?
        var total: JSONValue?
        try reader.members { (reader: inout JSONReader, key: String) throws(JSONParseError) in
            switch key {
            case "prompt_tokens": prompt = try reader.value()
            case "completion_tokens": completion = try reader.value()
            case "total_tokens": total = try reader.value()
            default: try reader.skip()
            }
        }
        return .members(prompt: prompt, completion: completion, total: total)
    }

    /// The members of a completion that Pacer reads, as found in the body, before their types
    /// are checked.
    struct Fields {
        enum Choice {
            case members(index: JSONValue?, message: JSONValue?, finishReason: JSONValue?)
            /// A choice that is not an object.
            case other(JSONValue)
        }

        enum Usage {
            case members(prompt: JSONValue?, completion: JSONValue?, total: JSONValue?)
            /// A usage that is not an object (`null` included).
            case other(JSONValue)
        }

        var id: JSONValue? = nil
        var object: JSONValue? = nil
        var created: JSONValue? = nil
        var model: JSONValue? = nil
        var choices: [Choice] = []
        var usage: Usage? = nil
    }

    private init(fields: Fields, requestedModel: String) throws(ChatShapeError) {
        self.init(
            id: try Self.string(fields.id, at: "id") ?? "",
            object: try Self.string(fields.object, at: "object") ?? "chat.completion",
            created: try Self.integer(fields.created, at: "created") ?? 0,
            model: try Self.string(fields.model, at: "model") ?? requestedModel,
            choices: try fields.choices.enumerated().map { (offset, choice) throws(ChatShapeError) in
                try Self.choice(choice, offset: offset)
            },
            usage: try Self.usage(fields.usage)
        )
    }

    private static func choice(_ choice: Fields.Choice, offset: Int) throws(ChatShapeError) -> Choice {
        // Built only for an error message: interpolating it for every field of every answer
        // cost more than reading the fields.
        func path() -> String { "choices[\(offset)]" }
        let (index, message, finishReason): (JSONValue?, JSONValue?, JSONValue?)
        switch choice {
        case .other(let json): throw ChatShapeError(message: "\(path()) is \(json.typeName), not an object")
        case .members(let indexField, let messageField, let finishField):
            (index, message, finishReason) = (indexField, messageField, finishField)
        }
        guard case .object(let members)? = message else {
            throw ChatShapeError(message: "\(path()).message is \(message?.typeName ?? "missing"), not an object")
        }
        let toolCalls = members["tool_calls"].flatMap { $0 == .null ? nil : $0 }
        return Choice(
            index: try integer(index, at: "\(path()).index") ?? offset,
            message: Message(
                role: try string(members["role"], at: "\(path()).message.role") ?? "assistant",
                content: try string(members["content"], at: "\(path()).message.content"),
                refusal: try string(members["refusal"], at: "\(path()).message.refusal"),
                toolCalls: toolCalls
            ),
            finishReason: try string(finishReason, at: "\(path()).finish_reason")
        )
    }

    private static func usage(_ usage: Fields.Usage?) throws(ChatShapeError) -> Usage? {
        switch usage {
        case nil, .other(.null)?: return nil
        case .other(let json)?: throw ChatShapeError(message: "usage is \(json.typeName), not an object")
        case .members(let promptField, let completionField, let totalField)?:
            let prompt = try integer(promptField, at: "usage.prompt_tokens") ?? 0
            let completion = try integer(completionField, at: "usage.completion_tokens") ?? 0
            let total =
                try integer(totalField, at: "usage.total_tokens")
                ?? prompt.addingReportingOverflow(completion).partialValue
            return Usage(promptTokens: prompt, completionTokens: completion, totalTokens: total)
        }
    }

    /// A string, or `nil` when absent or `null`.
    private static func string(_ json: JSONValue?, at path: @autoclosure () -> String) throws(ChatShapeError) -> String?
    {
        switch json {
        case nil, .null?: return nil
        case .string(let text)?: return text
        case let other?: throw ChatShapeError(message: "\(path()) is \(other.typeName), not a string or null")
        }
    }

    /// A non-negative integer an `Int` holds exactly, or `nil` when absent or `null`.
    private static func integer(_ json: JSONValue?, at path: @autoclosure () -> String) throws(ChatShapeError) -> Int? {
        switch json {
        case nil, .null?: return nil
        case .number(let number)?:
            guard let value = number.int, value >= 0 else {
                throw ChatShapeError(message: "\(path()) is \(number.text.prefix(40)), not a non-negative integer")
            }
            return value
        case let other?: throw ChatShapeError(message: "\(path()) is \(other.typeName), not an integer")
        }
    }
}
