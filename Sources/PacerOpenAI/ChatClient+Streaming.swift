import Foundation
import NIOHTTP1
import PacerCore
import PacerHTTP

/// How a ``ChatClient`` streams: the waits that replace the whole-answer timeout.
///
/// A streamed answer is judged by how long it keeps a person waiting, not by how long it is:
/// the first token must come within ``firstTokenTimeout``, and no silence after it may last
/// ``idleTimeout``. A long answer that keeps streaming is never cut off.
public struct ChatStreaming: Sendable, Hashable {
    /// From sending the request to the first token; `nil` uses the attempt's timeout.
    /// Default `nil`.
    public var firstTokenTimeout: Duration?
    /// The longest silence between parts after the first token. Default 30 s.
    public var idleTimeout: Duration

    /// Creates streaming settings.
    ///
    /// - Parameters:
    ///   - firstTokenTimeout: The wait for the first token (default: the attempt's timeout).
    ///   - idleTimeout: The longest silence after it (default 30 s).
    public init(firstTokenTimeout: Duration? = nil, idleTimeout: Duration = .seconds(30)) {
        self.firstTokenTimeout = firstTokenTimeout
        self.idleTimeout = idleTimeout
    }
}

extension ChatClient {
    /// One streamed attempt: the assembled answer, as a plain request would have given it,
    /// with its timing.
    ///
    /// A stream that ends without a `finish_reason` (cut off, or ended early by the server)
    /// and an error event mid-stream are retryable failures: nothing whole was delivered. A
    /// server that answers plain JSON instead of a stream is read as a plain answer.
    func sendStreaming(
        _ item: BatchItem<ChatPrompt>,
        body: ChatCompletionRequest,
        streaming: ChatStreaming,
        timeout: Duration?
    ) async throws -> ChatResult {
        let timeouts = StreamTimeouts(
            firstToken: streaming.firstTokenTimeout ?? timeout ?? transport.configuration.requestDeadline,
            idle: streaming.idleTimeout
        )
        let response = try await prepared.stream(
            body.jsonBytes,
            to: .chatCompletions,
            model: body.model,
            over: transport,
            reader: ChatStreamReader(),
            timeouts: timeouts,
            redactor: redactor
        )
        guard (200...299).contains(response.status) else {
            throw redactor.redact(Self.failure(for: response.plain))
        }
        guard case .stream(let reader) = response.body else {
            return try result(of: response.plain, prompt: item.input, model: body.model)
        }
        switch reader.assembler.finish(promptTokens: TokenEstimate.prompt(body.messages)) {
        case .incomplete(let problem):
            var error = ItemError(kind: .invalidResponse, status: response.status, message: problem, isRetryable: true)
            error.endedEarly = true
            throw error
        case .failed(let message):
            throw ItemError(
                kind: .invalidResponse,
                status: response.status,
                message: redactor.redact("the server reported an error mid-stream: \(message)"),
                isRetryable: true
            )
        case .complete(let chat):
            let model = chat.model.isEmpty ? body.model : chat.model
            let completion = ChatCompletionResponse(
                id: chat.id,
                created: Int(Date().timeIntervalSince1970),
                model: model,
                choices: [
                    .init(
                        index: 0,
                        message: .init(content: chat.content, refusal: chat.refusal, toolCalls: chat.toolCalls),
                        finishReason: chat.finishReason
                    )
                ],
                usage: .init(
                    promptTokens: chat.usage.prompt,
                    completionTokens: chat.usage.completion,
                    totalTokens: chat.usage.total
                )
            )
            return ChatResult(
                prompt: item.input.text,
                response: chat.content,
                usage: chat.usage,
                model: model,
                costUSD: configuration.pricing.cost(of: chat.usage, model: model)
                    ?? configuration.pricing.cost(of: chat.usage, model: body.model),
                rateLimit: RateLimitHeaders.snapshot(from: response.headers),
                completion: completion,
                requestID: response.headers.first(name: "x-request-id"),
                message: chat.message,
                streamTiming: response.timing,
                usageIsEstimated: chat.usageIsEstimated
            )
        }
    }
}
