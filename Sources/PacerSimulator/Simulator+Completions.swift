import Foundation
import Hummingbird
import PacerCore
import PacerOpenAI

extension Simulator {
    /// The body of `POST /v1/completions` (the legacy text completions).
    struct CompletionsRequest: Decodable {
        var model: String
        var prompt: TextInputs
        var maxTokens: Int?
        var temperature: Double?

        enum CodingKeys: String, CodingKey {
            case model, prompt, temperature
            case maxTokens = "max_tokens"
        }
    }

    /// The legacy endpoint's `max_tokens` when the request sets none.
    static let defaultLegacyMaxTokens = 16

    /// `POST /v1/completions`: one deterministic choice per prompt, and the usage of all.
    func completions(_ request: Request, context: SimulatorContext) async throws -> Response {
        let completions: CompletionsRequest
        switch try await parse(CompletionsRequest.self, from: request, endpoint: "completions") {
        case .answered(let response): return response
        case .body(let body): completions = body
        }
        let prompts = completions.prompt.inputs
        let item = "completions:\(prompts.first?.key ?? "")"
        if let exhausted = quotaAnswer(item: item) { return exhausted }
        let problem = Self.problem(with: completions) ?? rejectedInput(prompts.map(\.text)) { "prompt[\($0)]" }
        let answer = Self.completions(for: completions)
        // Each prompt may generate up to `max_tokens`. Saturating: a client may ask for Int.max.
        let allowance = max(0, completions.maxTokens ?? Self.defaultLegacyMaxTokens)
        let (generated, overflow) = allowance.multipliedReportingOverflow(by: prompts.count)
        let (estimate, overflowSum) = answer.usage.promptTokens.addingReportingOverflow(generated)
        return try await serve(
            item: item,
            context: context,
            tokens: (overflow || overflowSum ? Int.max : estimate, problem == nil ? answer.usage.totalTokens : 0),
            model: completions.model
        ) {
            if let problem { return problem }
            return Answer(answer, tokens: answer.usage.tokenUsage)
        }
    }

    /// Why OpenAI would refuse the request, if it would.
    static func problem(with request: CompletionsRequest) -> Answer? {
        if let unknown = unknownModel(request.model) { return unknown }
        if request.prompt.inputs.isEmpty {
            return invalidRequest("[] is too short - 'prompt'", param: "prompt")
        }
        if let temperature = request.temperature, !(0...2).contains(temperature) {
            return invalidRequest(
                "\(temperature) is greater than the maximum of 2 - 'temperature'",
                param: "temperature"
            )
        }
        if let maxTokens = request.maxTokens, maxTokens < 0 {
            return invalidRequest(
                "Invalid 'max_tokens': integer below minimum value. Expected a value >= 0, but got \(maxTokens) instead.",
                param: "max_tokens",
                code: "integer_below_min_value"
            )
        }
        return nil
    }

    /// The deterministic answer: each prompt's text is made as chat makes an answer, from
    /// the prompt's hash, at most `max_tokens` words.
    static func completions(for request: CompletionsRequest) -> TextCompletion {
        let limit = max(0, request.maxTokens ?? defaultLegacyMaxTokens)
        let choices = request.prompt.inputs.enumerated().map { index, prompt in
            let seed = fnv1a(prompt.key)
            let count = min(limit, 8 + Int(seed % 40))
            return TextCompletion.Choice(
                text: words(count: count, seed: seed),
                index: index,
                finishReason: count == limit ? "length" : "stop",
                tokens: count
            )
        }
        let promptTokens = request.prompt.inputs.reduce(0) { $0 + $1.tokens }
        let completionTokens = choices.reduce(0) { $0 + $1.tokens }
        let seed = request.prompt.inputs.reduce(UInt64(0)) { $0 &* 31 &+ fnv1a($1.key) }
        return TextCompletion(
            id: "cmpl-sim\(String(seed, radix: 16))",
            model: request.model,
            choices: choices,
            usage: .init(promptTokens: promptTokens, completionTokens: completionTokens)
        )
    }

    /// The body of a successful legacy completion.
    struct TextCompletion: Encodable {
        /// One prompt's answer.
        struct Choice: Encodable {
            var text: String
            var index: Int
            var finishReason: String
            /// Its completion tokens (not sent).
            var tokens: Int

            enum CodingKeys: String, CodingKey {
                case text, index, logprobs
                case finishReason = "finish_reason"
            }

            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(text, forKey: .text)
                try container.encode(index, forKey: .index)
                try container.encodeNil(forKey: .logprobs)
                try container.encode(finishReason, forKey: .finishReason)
            }
        }

        /// Token counts, as chat reports them.
        struct Usage: Encodable {
            var promptTokens: Int
            var completionTokens: Int
            var totalTokens: Int

            init(promptTokens: Int, completionTokens: Int) {
                self.promptTokens = promptTokens
                self.completionTokens = completionTokens
                self.totalTokens = promptTokens + completionTokens
            }

            var tokenUsage: TokenUsage {
                TokenUsage(prompt: promptTokens, completion: completionTokens, total: totalTokens)
            }

            enum CodingKeys: String, CodingKey {
                case promptTokens = "prompt_tokens"
                case completionTokens = "completion_tokens"
                case totalTokens = "total_tokens"
            }
        }

        var id: String
        var object = "text_completion"
        var created = 1_700_000_000
        var model: String
        var choices: [Choice]
        var usage: Usage
    }
}
