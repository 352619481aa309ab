import NIOCore
import NIOHTTP1
import PacerCore
import PacerHTTP
import PacerJSON

/// `pacer chat --routes`: each prompt made the chat completion ``ChatClient`` would send,
/// sent through a ``RoutedClient`` to a deployment of its model, and read back into the
/// ``ChatResult`` `pacer chat` writes.
public struct RoutedChatClient: BatchOperation {
    /// Builds each prompt's request and reads each answer (it sends nothing itself).
    public let chat: ChatClient
    /// Sends each request to a deployment.
    public let routed: RoutedClient

    /// A client building requests as `chat` does and sending them through `routed`.
    public init(chat: ChatClient, routed: RoutedClient) {
        self.chat = chat
        self.routed = routed
    }

    /// The request `pacer chat` sends for `prompt`, as any endpoint's request.
    public func request(for prompt: ChatPrompt) -> APIRequest {
        let body =
            (try? JSONValue(parsing: String(decoding: chat.request(for: prompt).jsonBytes, as: UTF8.self))) ?? .null
        return APIRequest(endpoint: .chatCompletions, body: body)
    }

    /// Sends one prompt to a deployment of its model.
    public func attempt(_ item: BatchItem<ChatPrompt>, attempt: Int) async throws -> ChatResult {
        let routed = BatchItem(index: item.index, id: item.id, input: request(for: item.input))
        return try read(try await self.routed.attempt(routed, attempt: attempt), of: routed.input, prompt: item.input)
    }

    /// Sends one prompt; `timeout` bounds the request.
    public func attempt(_ item: BatchItem<ChatPrompt>, attempt: Int, timeout: Duration) async throws -> ChatResult {
        let routed = BatchItem(index: item.index, id: item.id, input: request(for: item.input))
        let answer = try await self.routed.attempt(routed, attempt: attempt, timeout: timeout)
        return try read(answer, of: routed.input, prompt: item.input)
    }

    /// `true`: each deployment's request has its deadline.
    public var enforcesTimeout: Bool { true }

    /// The most tokens the request for `prompt` may use.
    public func estimatedTokens(for prompt: ChatPrompt) -> Int { chat.estimatedTokens(for: prompt) }

    /// The answer kept for this prompt's request, if any.
    public func storedOutput(for prompt: ChatPrompt) async -> ChatResult? {
        let request = request(for: prompt)
        guard let answer = await routed.storedOutput(for: request),
            var result = try? read(answer, of: request, prompt: prompt)
        else { return nil }
        result.isCached = true
        return result
    }

    /// The answer to `request` read as `pacer chat` reads a live one, with the cost the
    /// router worked out.
    private func read(_ answer: APIResponse, of request: APIRequest, prompt: ChatPrompt) throws -> ChatResult {
        var result = try chat.result(
            of: HTTPResponseData(status: answer.status, headers: HTTPHeaders(), body: ByteBuffer(string: answer.body)),
            prompt: prompt,
            model: request.model ?? chat.configuration.model
        )
        result.requestID = answer.requestID
        result.costUSD = result.costUSD ?? answer.costUSD
        result.rateLimit = nil
        return result
    }
}
