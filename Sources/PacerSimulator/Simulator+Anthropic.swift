import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import PacerCore
import PacerJSON
import PacerOpenAI

/// Anthropic's Messages API, `POST /v1/messages`, in Anthropic's own dialect: the `x-api-key`
/// and `anthropic-version` headers, its message and error shapes (529 `overloaded_error` for
/// an overloaded server), and its `anthropic-ratelimit-*` headers under the same limits and
/// faults as every other endpoint. Streaming is not simulated here.
extension Simulator {
    /// An answer as Anthropic's Messages API writes it.
    struct AnthropicMessage: Encodable {
        struct Block: Encodable {
            var type = "text"
            var text: String
        }

        struct Usage: Encodable {
            var inputTokens: Int
            var outputTokens: Int

            enum CodingKeys: String, CodingKey {
                case inputTokens = "input_tokens"
                case outputTokens = "output_tokens"
            }
        }

        var id: String
        var type = "message"
        var role = "assistant"
        var model: String
        var content: [Block]
        var stopReason: String
        var stopSequence: String?
        var usage: Usage

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(id, forKey: .id)
            try container.encode(type, forKey: .type)
            try container.encode(role, forKey: .role)
            try container.encode(model, forKey: .model)
            try container.encode(content, forKey: .content)
            try container.encode(stopReason, forKey: .stopReason)
            // Anthropic sends it, null when no stop sequence ended the answer.
            try container.encode(stopSequence, forKey: .stopSequence)
            try container.encode(usage, forKey: .usage)
        }

        enum CodingKeys: String, CodingKey {
            case id, type, role, model, content, usage
            case stopReason = "stop_reason"
            case stopSequence = "stop_sequence"
        }
    }

    /// `POST /v1/messages`, served in ``SimulatorDialect/anthropic``.
    func messages(_ request: Request, context: SimulatorContext) async throws -> Response {
        let body = try await request.body.collect(upTo: 4 << 20)
        if let key = configuration.apiKey, request.headers[HTTPField.Name("x-api-key")!] != key {
            stats.recordRequest(item: "messages:unauthorized")
            return failure(.unauthorized, message: "invalid x-api-key", type: "authentication_error")
        }
        guard request.headers[HTTPField.Name("anthropic-version")!] != nil else {
            stats.recordRequest(item: "messages:invalid")
            return failure(.badRequest, message: "anthropic-version: header is required", type: "invalid_request_error")
        }
        guard case .object(let fields)? = try? JSONValue(parsing: String(buffer: body)) else {
            stats.recordRequest(item: "messages:invalid")
            return failure(
                .badRequest,
                message: "There was an issue with your request body: it is not a JSON object.",
                type: "invalid_request_error"
            )
        }
        let parsed: (model: String, maxTokens: Int, texts: [ChatMessage])
        do {
            parsed = try Self.messagesRequest(fields)
        } catch {
            stats.recordRequest(item: "messages:invalid")
            return failure(.badRequest, message: error.message, type: "invalid_request_error")
        }
        let prompt = parsed.texts.last(where: { $0.role == "user" })?.content ?? ""
        if configuration.quotaExhausted {
            stats.recordRequest(item: "messages:\(prompt)")
            return failure(
                .badRequest,
                message: "Your credit balance is too low to access the Anthropic API.",
                type: "invalid_request_error"
            )
        }
        let seed = Self.fnv1a(prompt)
        let outputTokens = min(parsed.maxTokens, 8 + Int(seed % 40))
        let inputTokens = TokenEstimate.prompt(parsed.texts)
        let (sum, overflow) = inputTokens.addingReportingOverflow(parsed.maxTokens)
        let rejection = rejectedInput(parsed.texts.map(\.content)) { "messages.\($0).content" }
        return try await serve(
            item: "messages:\(prompt)",
            context: context,
            tokens: (overflow ? Int.max : sum, rejection == nil ? inputTokens + outputTokens : 0),
            model: parsed.model
        ) {
            if let rejection { return rejection }
            let message = AnthropicMessage(
                id: "msg_sim" + String(seed, radix: 16),
                model: parsed.model,
                content: [.init(text: Self.words(count: outputTokens, seed: seed))],
                stopReason: outputTokens == parsed.maxTokens ? "max_tokens" : "end_turn",
                usage: .init(inputTokens: inputTokens, outputTokens: outputTokens)
            )
            return Answer(
                message,
                tokens: TokenUsage(prompt: inputTokens, completion: outputTokens)
            )
        }
    }

    /// What was wrong with a Messages request, in Anthropic's words.
    struct MessagesProblem: Error {
        var message: String
    }

    /// A Messages request's model, `max_tokens`, and its system prompt and messages as text
    /// (a string content, or the text of its text blocks).
    static func messagesRequest(
        _ fields: [String: JSONValue]
    ) throws(MessagesProblem) -> (model: String, maxTokens: Int, texts: [ChatMessage]) {
        guard case .string(let model)? = fields["model"], !model.isEmpty else {
            throw MessagesProblem(message: "model: Field required")
        }
        guard case .number(let number)? = fields["max_tokens"], let maxTokens = number.int else {
            throw MessagesProblem(message: "max_tokens: Field required")
        }
        guard maxTokens >= 1 else { throw MessagesProblem(message: "max_tokens: Input should be greater than 0") }
        if fields["stream"] == .bool(true) {
            throw MessagesProblem(message: "stream: streaming is not simulated for /v1/messages")
        }
        guard case .array(let messages)? = fields["messages"], !messages.isEmpty else {
            throw MessagesProblem(message: "messages: at least one message is required")
        }
        var texts: [ChatMessage] = []
        if let system = fields["system"] {
            texts.append(ChatMessage(role: "system", content: try text(of: system, at: "system")))
        }
        for (index, message) in messages.enumerated() {
            guard case .string(let role)? = message["role"], role == "user" || role == "assistant" else {
                throw MessagesProblem(message: "messages.\(index).role: Input should be 'user' or 'assistant'")
            }
            guard let content = message["content"] else {
                throw MessagesProblem(message: "messages.\(index).content: Field required")
            }
            texts.append(ChatMessage(role: role, content: try text(of: content, at: "messages.\(index).content")))
        }
        return (model, maxTokens, texts)
    }

    /// A content's text: a string, or the `text` of its text blocks, joined.
    private static func text(of content: JSONValue, at path: String) throws(MessagesProblem) -> String {
        switch content {
        case .string(let text):
            return text
        case .array(let blocks):
            return blocks.compactMap { block -> String? in
                guard block["type"] == .string("text"), case .string(let text)? = block["text"] else { return nil }
                return text
            }.joined(separator: "\n")
        default:
            throw MessagesProblem(message: "\(path): Input should be a valid string or a list of content blocks")
        }
    }
}
