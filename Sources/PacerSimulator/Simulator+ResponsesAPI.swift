import Foundation
import Hummingbird
import PacerCore
import PacerOpenAI

extension Simulator {
    /// The body of `POST /v1/responses`.
    struct ResponsesRequest: Decodable {
        /// The input as items: a string input is one user item.
        struct Input: Decodable {
            var items: [Item]

            init(from decoder: any Decoder) throws {
                let container = try decoder.singleValueContainer()
                if let text = try? container.decode(String.self) {
                    items = [Item(role: "user", text: text)]
                } else {
                    items = try container.decode([Item].self)
                }
            }
        }

        /// One input item: a role and its text (a string content, or the text of its parts).
        /// Items of other kinds (tool outputs, references) carry no text here.
        struct Item: Decodable {
            var role: String?
            var text: String?

            init(role: String?, text: String?) {
                self.role = role
                self.text = text
            }

            /// A content part; only the text ones (`input_text`, `output_text`) count.
            struct Part: Decodable {
                var text: String?
            }

            enum CodingKeys: String, CodingKey {
                case role, content
            }

            init(from decoder: any Decoder) throws {
                let container = try decoder.container(keyedBy: CodingKeys.self)
                role = try container.decodeIfPresent(String.self, forKey: .role)
                if let content = try? container.decodeIfPresent(String.self, forKey: .content) {
                    text = content
                } else if let parts = try container.decodeIfPresent([Part].self, forKey: .content) {
                    text = parts.compactMap(\.text).joined(separator: "\n")
                } else {
                    text = nil
                }
            }
        }

        var model: String
        var input: Input
        var instructions: String?
        var maxOutputTokens: Int?
        var temperature: Double?
        var topP: Double?
        var metadata: [String: String]?

        enum CodingKeys: String, CodingKey {
            case model, input, instructions, temperature, metadata
            case maxOutputTokens = "max_output_tokens"
            case topP = "top_p"
        }

        /// The conversation as chat messages (instructions first, as a system message), for
        /// the token count.
        var messages: [ChatMessage] {
            let items = input.items.compactMap { item in
                item.text.map { ChatMessage(role: item.role ?? "user", content: $0) }
            }
            return (instructions.map { [ChatMessage.system($0)] } ?? []) + items
        }

        /// The text the answer is drawn from: the last user item's, as chat uses its last
        /// user message.
        var prompt: String {
            input.items.last(where: { $0.role == "user" && $0.text != nil })?.text ?? ""
        }
    }

    /// The smallest `max_output_tokens` OpenAI accepts.
    static let minimumMaxOutputTokens = 16

    /// `POST /v1/responses`: a deterministic Response object and its usage.
    func responses(_ request: Request, context: SimulatorContext) async throws -> Response {
        let responses: ResponsesRequest
        switch try await parse(ResponsesRequest.self, from: request, endpoint: "responses") {
        case .answered(let response): return response
        case .body(let body): responses = body
        }
        let item = "responses:\(responses.prompt)"
        if let exhausted = quotaAnswer(item: item) { return exhausted }
        let problem =
            Self.problem(with: responses) ?? rejectedInput(responses.input.items.map(\.text)) { "input[\($0)]" }
        let answer = Self.response(for: responses)
        let (estimate, overflow) = answer.usage.inputTokens.addingReportingOverflow(
            responses.maxOutputTokens ?? TokenEstimate.defaultCompletionAllowance
        )
        return try await serve(
            item: item,
            context: context,
            tokens: (overflow ? Int.max : estimate, problem == nil ? answer.usage.totalTokens : 0),
            model: responses.model
        ) {
            if let problem { return problem }
            return Answer(answer, tokens: answer.usage.tokenUsage)
        }
    }

    /// Why OpenAI would refuse the request, if it would.
    static func problem(with request: ResponsesRequest) -> Answer? {
        if let unknown = unknownModel(request.model) { return unknown }
        if request.input.items.isEmpty {
            return invalidRequest("[] is too short - 'input'", param: "input")
        }
        if let temperature = request.temperature, !(0...2).contains(temperature) {
            return invalidRequest(
                "\(temperature) is greater than the maximum of 2 - 'temperature'",
                param: "temperature"
            )
        }
        if let limit = request.maxOutputTokens, limit < minimumMaxOutputTokens {
            return invalidRequest(
                "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= \(minimumMaxOutputTokens), but got \(limit) instead.",
                param: "max_output_tokens",
                code: "integer_below_min_value"
            )
        }
        return nil
    }

    /// The deterministic answer: text made as chat makes it from the last user text, cut at
    /// `max_output_tokens` (then `incomplete`).
    static func response(for request: ResponsesRequest) -> ResponseObject {
        let seed = fnv1a(request.prompt)
        let limit = request.maxOutputTokens ?? TokenEstimate.defaultCompletionAllowance
        let outputTokens = min(limit, 8 + Int(seed % 40))
        let complete = outputTokens < limit
        let id = String(seed, radix: 16)
        return ResponseObject(
            id: "resp_sim\(id)",
            model: request.model,
            status: complete ? "completed" : "incomplete",
            output: [
                .init(
                    id: "msg_sim\(id)",
                    status: complete ? "completed" : "incomplete",
                    text: words(count: outputTokens, seed: seed)
                )
            ],
            instructions: request.instructions,
            maxOutputTokens: request.maxOutputTokens,
            temperature: request.temperature ?? 1,
            topP: 1,
            metadata: request.metadata ?? [:],
            usage: .init(inputTokens: TokenEstimate.prompt(request.messages), outputTokens: outputTokens)
        )
    }

    /// OpenAI's Response object, with every field its SDKs expect (`null` when unset).
    struct ResponseObject: Encodable {
        /// The assistant message of the output.
        struct Message: Encodable {
            /// Its one text part.
            struct Text: Encodable {
                var type = "output_text"
                var text: String
                var annotations: [String] = []
            }

            var type = "message"
            var id: String
            var status: String
            var role = "assistant"
            var content: [Text]

            init(id: String, status: String, text: String) {
                self.id = id
                self.status = status
                self.content = [Text(text: text)]
            }
        }

        /// Token counts, with the details OpenAI always reports.
        struct Usage: Encodable {
            var inputTokens: Int
            var outputTokens: Int
            var totalTokens: Int

            init(inputTokens: Int, outputTokens: Int) {
                self.inputTokens = inputTokens
                self.outputTokens = outputTokens
                self.totalTokens = inputTokens + outputTokens
            }

            var tokenUsage: TokenUsage {
                TokenUsage(prompt: inputTokens, completion: outputTokens, total: totalTokens)
            }

            enum CodingKeys: String, CodingKey {
                case inputTokens = "input_tokens"
                case inputTokensDetails = "input_tokens_details"
                case outputTokens = "output_tokens"
                case outputTokensDetails = "output_tokens_details"
                case totalTokens = "total_tokens"
            }

            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(inputTokens, forKey: .inputTokens)
                try container.encode(["cached_tokens": 0, "cache_write_tokens": 0], forKey: .inputTokensDetails)
                try container.encode(outputTokens, forKey: .outputTokens)
                try container.encode(["reasoning_tokens": 0], forKey: .outputTokensDetails)
                try container.encode(totalTokens, forKey: .totalTokens)
            }
        }

        var id: String
        var model: String
        var status: String
        var output: [Message]
        var instructions: String?
        var maxOutputTokens: Int?
        var temperature: Double
        var topP: Double
        var metadata: [String: String]
        var usage: Usage

        enum CodingKeys: String, CodingKey {
            case id, object, model, status, output, instructions, temperature, metadata, usage, error, tools, reasoning
            case text, truncation, user, store, background
            case createdAt = "created_at"
            case incompleteDetails = "incomplete_details"
            case maxOutputTokens = "max_output_tokens"
            case topP = "top_p"
            case parallelToolCalls = "parallel_tool_calls"
            case toolChoice = "tool_choice"
            case previousResponseID = "previous_response_id"
            case serviceTier = "service_tier"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(id, forKey: .id)
            try container.encode("response", forKey: .object)
            try container.encode(1_700_000_000, forKey: .createdAt)
            try container.encode(status, forKey: .status)
            try container.encode(false, forKey: .background)
            try container.encodeNil(forKey: .error)
            if status == "incomplete" {
                try container.encode(["reason": "max_output_tokens"], forKey: .incompleteDetails)
            } else {
                try container.encodeNil(forKey: .incompleteDetails)
            }
            try container.encode(instructions, forKey: .instructions)
            try container.encode(maxOutputTokens, forKey: .maxOutputTokens)
            try container.encode(model, forKey: .model)
            try container.encode(output, forKey: .output)
            try container.encode(true, forKey: .parallelToolCalls)
            try container.encodeNil(forKey: .previousResponseID)
            try container.encode(["effort": String?.none, "summary": nil], forKey: .reasoning)
            try container.encode("default", forKey: .serviceTier)
            try container.encode(true, forKey: .store)
            try container.encode(temperature, forKey: .temperature)
            try container.encode(["format": ["type": "text"]], forKey: .text)
            try container.encode("auto", forKey: .toolChoice)
            try container.encode([String](), forKey: .tools)
            try container.encode(topP, forKey: .topP)
            try container.encode("disabled", forKey: .truncation)
            try container.encode(usage, forKey: .usage)
            try container.encodeNil(forKey: .user)
            try container.encode(metadata, forKey: .metadata)
        }
    }
}
