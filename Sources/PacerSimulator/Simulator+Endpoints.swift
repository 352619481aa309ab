import Foundation
import Hummingbird
import NIOCore
import PacerCore
import PacerOpenAI

extension Simulator {
    /// `POST /v1/chat/completions`: a deterministic answer and usage for the prompt; with
    /// `"stream": true`, the same answer as Server-Sent Events (see ``streamed(_:tokens:request:fault:)``).
    func chatCompletion(_ request: Request, context: SimulatorContext) async throws -> Response {
        let body = try await request.body.collect(upTo: 4 << 20)
        if let denied = checkKey(request) {
            stats.recordRequest(item: "chat:unauthorized")
            return denied
        }
        let data = Data(body.readableBytesView)
        guard let chat = try? JSONDecoder().decode(ChatCompletionRequest.self, from: data) else {
            stats.recordRequest(item: "chat:invalid")
            return failure(
                .badRequest,
                message: "We could not parse the JSON body of your request.",
                type: "invalid_request_error"
            )
        }
        let streaming = (try? JSONDecoder().decode(ChatStreamRequest.self, from: data)).flatMap { $0.stream ? $0 : nil }
        cutStreamOnArrival()
        let prompt = chat.messages.last(where: { $0.role == "user" })?.content ?? ""
        if configuration.quotaExhausted {
            stats.recordRequest(item: "chat:\(prompt)")
            return failure(
                .tooManyRequests,
                message: "You exceeded your current quota, please check your plan and billing details.",
                type: "insufficient_quota",
                code: "insufficient_quota"
            )
        }
        let completion = Self.completion(for: chat)
        // Saturating: a client may ask for up to Int.max tokens.
        let (sum, overflow) = TokenEstimate.prompt(chat.messages).addingReportingOverflow(
            chat.maxTokens ?? TokenEstimate.defaultCompletionAllowance
        )
        let estimate = overflow ? Int.max : sum
        let rejection = rejectedInput(chat.messages.map(\.content)) { "messages[\($0)].content" }
        let charge = rejection == nil ? completion.usage?.totalTokens ?? 0 : 0
        return try await serve(
            item: "chat:\(prompt)",
            context: context,
            tokens: (estimate, charge),
            model: chat.model,
            stream: streaming
        ) {
            if chat.messages.isEmpty {
                return Answer(
                    OpenAIErrorBody(
                        error: .init(
                            message: "[] is too short - 'messages'",
                            type: "invalid_request_error",
                            param: "messages",
                            code: nil
                        )
                    ),
                    status: .badRequest
                )
            }
            if chat.model.hasPrefix("unknown-") {
                return Answer(
                    OpenAIErrorBody(
                        error: .init(
                            message: "The model `\(chat.model)` does not exist or you do not have access to it.",
                            type: "invalid_request_error",
                            param: nil,
                            code: "model_not_found"
                        )
                    ),
                    status: .notFound
                )
            }
            if let temperature = chat.temperature, !(0...2).contains(temperature) {
                return Answer(
                    OpenAIErrorBody(
                        error: .init(
                            message: "\(temperature) is greater than the maximum of 2 - 'temperature'",
                            type: "invalid_request_error",
                            param: "temperature",
                            code: nil
                        )
                    ),
                    status: .badRequest
                )
            }
            if let maxTokens = chat.maxTokens, maxTokens < 1 {
                return Answer(
                    OpenAIErrorBody(
                        error: .init(
                            message:
                                "Invalid 'max_tokens': integer below minimum value. Expected a value >= 1, but got \(maxTokens) instead.",
                            type: "invalid_request_error",
                            param: "max_tokens",
                            code: "integer_below_min_value"
                        )
                    ),
                    status: .badRequest
                )
            }
            if let rejection { return rejection }
            let usage = completion.usage.map {
                TokenUsage(prompt: $0.promptTokens, completion: $0.completionTokens, total: $0.totalTokens)
            }
            var answer = Answer(completion, tokens: usage)
            answer.chat = completion
            return answer
        }
    }

    /// `GET /posts/{id}`: a JSON-placeholder-like post, 404 outside `1...postCount`.
    func post(_ request: Request, context: SimulatorContext) async throws -> Response {
        let rawID = context.parameters.get("id") ?? ""
        return try await serve(item: "posts/\(rawID)", context: context) {
            guard let id = Int(rawID), (1...configuration.postCount).contains(id) else {
                return Answer([String: String](), status: .notFound)
            }
            return Answer(
                Post(
                    userId: (id - 1) / 10 + 1,
                    id: id,
                    title: "Simulated post \(id)",
                    body: Self.words(count: 12, seed: UInt64(id))
                )
            )
        }
    }

    struct Post: Codable {
        var userId: Int
        var id: Int
        var title: String
        var body: String
    }

    /// The deterministic completion for a request: same prompt, same answer and usage.
    static func completion(for request: ChatCompletionRequest) -> ChatCompletionResponse {
        let prompt = request.messages.last(where: { $0.role == "user" })?.content ?? ""
        let seed = fnv1a(prompt)
        let limit = request.maxTokens ?? TokenEstimate.defaultCompletionAllowance
        let completionTokens = min(limit, 8 + Int(seed % 40))
        let content = words(count: completionTokens, seed: seed)
        let promptTokens = TokenEstimate.prompt(request.messages)
        return ChatCompletionResponse(
            id: "chatcmpl-sim\(String(seed, radix: 16))",
            created: 1_700_000_000,
            model: request.model,
            choices: [
                .init(
                    index: 0,
                    message: .init(role: "assistant", content: content),
                    finishReason: completionTokens == limit ? "length" : "stop"
                )
            ],
            usage: .init(
                promptTokens: promptTokens,
                completionTokens: completionTokens,
                totalTokens: promptTokens + completionTokens
            )
        )
    }

    static let vocabulary = [
        "pacing", "tokens", "latency", "retry", "budget", "minute", "server", "batch", "answer", "limit",
        "queue", "result", "model", "request", "stream", "window", "jitter", "backoff", "success", "resume",
    ]

    /// `count` words chosen deterministically from `seed`.
    static func words(count: Int, seed: UInt64) -> String {
        var generator = SplitMix64(seed: seed)
        return (0..<count).map { _ in vocabulary[Int(generator.next() % UInt64(vocabulary.count))] }.joined(
            separator: " "
        )
    }

    /// FNV-1a: a hash that is the same in every process (Swift's `Hasher` is not).
    static func fnv1a(_ text: String) -> UInt64 {
        text.utf8.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x0000_0100_0000_01B3 }
    }
}
