import NIOCore
import PacerCore
import PacerHTTP
import PacerJSON

/// Assembles a streamed chat completion (`stream: true`) from its Server-Sent Events into
/// the message a plain request would have returned, and says whether the stream was whole.
///
/// A pure value type: ``consume(_:)`` each event, then ``finish(promptTokens:)``. Whole means
/// a `finish_reason` arrived: a stream that ends without one — cut off, or ended with
/// `[DONE]` early, as llama.cpp's server does to a running stream when another request
/// arrives — is incomplete, and the attempt is worth repeating. An `error` event, or a chunk
/// that is an error object, fails the attempt with the server's message. A stream without a
/// usage chunk gets its usage estimated, and says so: the prompt's from its text, the answer's
/// as one token per chunk that carried content.
public struct ChatStreamAssembler: Sendable {
    /// What one event meant.
    public enum Step: Sendable, Hashable {
        /// More may come.
        case more
        /// `[DONE]`: the stream is over.
        case done
        /// The server reported an error in the stream.
        case failed(String)
    }

    /// How the stream ended.
    public enum Outcome: Sendable, Hashable {
        /// A whole answer.
        case complete(StreamedChat)
        /// No `finish_reason`: cut off; ask again.
        case incomplete(String)
        /// The server reported an error.
        case failed(String)
    }

    /// The answer a whole stream assembled.
    public struct StreamedChat: Sendable, Hashable {
        /// The completion's id and model, from the chunks.
        public var id: String
        /// The model that answered.
        public var model: String
        /// The text, or `nil` when the model sent none (a refusal, tool calls).
        public var content: String?
        /// The refusal, if the model refused.
        public var refusal: String?
        /// The tool calls, assembled from their deltas.
        public var toolCalls: JSONValue?
        /// Why the model stopped.
        public var finishReason: String
        /// The usage the stream reported, or one estimated from the text.
        public var usage: TokenUsage
        /// Whether ``usage`` is an estimate (the stream had no usage chunk).
        public var usageIsEstimated: Bool

        /// The message as a plain response's `choices[0].message`.
        public var message: JSONValue {
            var fields: [String: JSONValue] = [
                "role": .string("assistant"), "content": content.map(JSONValue.string) ?? .null,
            ]
            if let refusal { fields["refusal"] = .string(refusal) }
            if let toolCalls { fields["tool_calls"] = toolCalls }
            return .object(fields)
        }
    }

    private var id = ""
    private var model = ""
    private var content: [UInt8] = []
    private var sawContent = false
    private var refusal: String?
    private var toolCalls: [Int: (id: String?, name: String, arguments: String)] = [:]
    private var finishReason: String?
    private var usage: TokenUsage?
    private var failure: String?
    /// Chunks that carried text (or a refusal or tool call): the first one is the first token.
    public private(set) var contentChunks = 0

    /// An empty assembler.
    public init() {}

    /// Takes one event of the stream.
    public mutating func consume(_ event: ServerSentEvent) -> Step {
        if event.data == "[DONE]" { return .done }
        guard let json = try? JSONValue(parsing: event.data) else {
            if event.event == "error" { return fail(event.data) }
            // A keep-alive or a line a proxy added: not ours to judge.
            return .more
        }
        if event.event == "error" || json["error"] != nil && json["choices"] == nil {
            let detail = json["error"] ?? json
            if case .string(let message)? = detail["message"] { return fail(message) }
            return fail(detail.jsonText)
        }
        if case .string(let value)? = json["id"], id.isEmpty { id = value }
        if case .string(let value)? = json["model"], model.isEmpty { model = value }
        if case .object(let reported)? = json["usage"] {
            let prompt = reported["prompt_tokens"]?.int ?? 0
            let completion = reported["completion_tokens"]?.int ?? 0
            usage = TokenUsage(
                prompt: prompt,
                completion: completion,
                total: reported["total_tokens"]?.int ?? prompt + completion
            )
        }
        guard case .array(let choices)? = json["choices"], let choice = choices.first else { return .more }
        let delta = choice["delta"]
        var carried = false
        if case .string(let text)? = delta?["content"] {
            content.append(contentsOf: text.utf8)
            sawContent = true
            carried = carried || !text.isEmpty
        }
        if case .string(let text)? = delta?["refusal"] {
            refusal = (refusal ?? "") + text
            carried = true
        }
        if case .array(let calls)? = delta?["tool_calls"] {
            for call in calls {
                let index = call["index"]?.int ?? 0
                var entry = toolCalls[index] ?? (nil, "", "")
                if case .string(let value)? = call["id"] { entry.id = value }
                if case .string(let value)? = call["function"]?["name"] { entry.name += value }
                if case .string(let value)? = call["function"]?["arguments"] { entry.arguments += value }
                toolCalls[index] = entry
            }
            carried = true
        }
        if carried { contentChunks += 1 }
        if case .string(let reason)? = choice["finish_reason"] { finishReason = reason }
        return .more
    }

    private mutating func fail(_ message: String) -> Step {
        failure = message
        return .failed(message)
    }

    /// The outcome once the stream is over (after `[DONE]`, or when the body ended).
    ///
    /// - Parameter promptTokens: The request's estimated prompt tokens, for a stream that
    ///   reported no usage.
    public func finish(promptTokens: Int) -> Outcome {
        if let failure { return .failed(failure) }
        guard let finishReason else {
            return .incomplete(
                "the stream ended without a finish_reason after \(contentChunks) chunks (cut off, or ended early by the server)"
            )
        }
        let text = String(decoding: content, as: UTF8.self)
        let calls: JSONValue? =
            toolCalls.isEmpty
            ? nil
            : .array(
                toolCalls.sorted { $0.key < $1.key }.map { _, call in
                    .object([
                        "id": call.id.map(JSONValue.string) ?? .null,
                        "type": .string("function"),
                        "function": .object(["name": .string(call.name), "arguments": .string(call.arguments)]),
                    ])
                }
            )
        let estimated = usage == nil
        // Servers that send no usage (llama.cpp) stream a token a chunk, so the chunks are a
        // closer count than the text's length; the text's estimate only if no chunk carried any.
        let completion = contentChunks > 0 ? contentChunks : TokenEstimate.text(text)
        return .complete(
            StreamedChat(
                id: id,
                model: model,
                content: sawContent && !(text.isEmpty && (refusal != nil || calls != nil)) ? text : nil,
                refusal: refusal,
                toolCalls: calls,
                finishReason: finishReason,
                usage: usage
                    ?? TokenUsage(prompt: promptTokens, completion: completion, total: promptTokens + completion),
                usageIsEstimated: estimated
            )
        )
    }
}

/// Reads a streamed chat completion off the wire: bytes to events to the assembled answer,
/// a part at a time on the connection's event loop.
public struct ChatStreamReader: StreamingBodyReader {
    private var parser = ServerSentEventParser()
    /// The answer so far.
    public private(set) var assembler = ChatStreamAssembler()

    /// An empty reader.
    public init() {}

    /// Parses a part and assembles its events; returns how many chunks carried content.
    ///
    /// - Throws: `ItemError` (`invalid_response`, retryable) for a line too long to be an
    ///   event stream.
    public mutating func read(_ part: ByteBuffer) throws -> Int {
        let before = assembler.contentChunks
        let events: [ServerSentEvent]
        do {
            events = try parser.feed(part.readableBytesView)
        } catch {
            throw ItemError(
                kind: .invalidResponse,
                message: "not an event stream: a line longer than \(error.limit) bytes",
                isRetryable: true
            )
        }
        for event in events {
            if assembler.consume(event) == .done { break }
        }
        return assembler.contentChunks - before
    }
}
