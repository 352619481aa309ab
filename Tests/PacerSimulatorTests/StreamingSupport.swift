import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import PacerOpenAI
import PacerSimulator
import PacerTesting
import Testing

/// A chat request's JSON body: the prompt as the user's message, and the stream options.
func chatBody(_ prompt: String, maxTokens: Int? = nil, stream: Bool = true, includeUsage: Bool? = nil) -> Data {
    var json: JSONObject = validRequest("chat/completions", prompt)
    if let maxTokens { json["max_tokens"] = maxTokens }
    if stream { json["stream"] = true }
    if let includeUsage { json["stream_options"] = ["include_usage": includeUsage] }
    return (try? JSONSerialization.data(withJSONObject: json)) ?? Data()
}

/// A streamed answer as a client reads it: each event with the time its bytes arrived.
struct StreamedAnswer: Sendable {
    var status: Int
    var contentType: String?
    /// When the request was sent.
    var started: ContinuousClock.Instant
    /// The events, in order, each with when the bytes that completed it arrived.
    var events: [(event: ServerSentEvent, at: ContinuousClock.Instant)]
    /// The whole body, as received.
    var raw: String
    /// How reading the body failed, if it did (a connection closed mid-stream).
    var bodyError: String?

    /// The `data:` of every event that is not `[DONE]`, as JSON objects.
    var chunks: [JSONObject] {
        events.compactMap { event in
            guard event.event.data != "[DONE]" else { return nil }
            return (try? JSONSerialization.jsonObject(with: Data(event.event.data.utf8))) as? JSONObject
        }
    }

    /// The `choices[0]` of each chunk that has one.
    var choices: [JSONObject] {
        chunks.compactMap { ($0["choices"] as? [JSONObject])?.first }
    }

    /// The `delta.content` texts, in order (empty ones left out).
    var contentPieces: [String] {
        choices.compactMap { ($0["delta"] as? JSONObject)?["content"] as? String }.filter { !$0.isEmpty }
    }

    /// When each event that carried a token (text, refusal or tool-call arguments) arrived.
    var tokenTimes: [ContinuousClock.Instant] {
        events.compactMap { Self.carriesToken($0.event) ? $0.at : nil }
    }

    /// Whether the last event is `[DONE]`.
    var endsWithDone: Bool { events.last?.event.data == "[DONE]" }

    /// The stream assembled as Pacer's client assembles it.
    func assembled(promptTokens: Int = 0) -> ChatStreamAssembler.Outcome {
        var assembler = ChatStreamAssembler()
        for (event, _) in events {
            if case .done = assembler.consume(event) { break }
        }
        return assembler.finish(promptTokens: promptTokens)
    }

    /// Whether an event is a chunk whose delta carries a token.
    static func carriesToken(_ event: ServerSentEvent) -> Bool {
        guard let json = (try? JSONSerialization.jsonObject(with: Data(event.data.utf8))) as? JSONObject,
            let choice = (json["choices"] as? [JSONObject])?.first, let delta = choice["delta"] as? JSONObject
        else { return false }
        if let content = delta["content"] as? String, !content.isEmpty { return true }
        if let refusal = delta["refusal"] as? String, !refusal.isEmpty { return true }
        let calls = delta["tool_calls"] as? [JSONObject] ?? []
        return calls.contains { (($0["function"] as? JSONObject)?["arguments"] as? String)?.isEmpty == false }
    }
}

/// `POST /v1/chat/completions` with `body`, reading the answer as a stream with
/// AsyncHTTPClient, so that each event's arrival time is seen.
///
/// - Parameter onFirstToken: Called once, when the first event that carries a token arrives.
func streamChat(
    _ server: Simulator.Running,
    _ body: Data,
    onFirstToken: @Sendable () -> Void = {}
) async throws -> StreamedAnswer {
    var request = HTTPClientRequest(url: server.baseURL + "/chat/completions")
    request.method = .POST
    request.headers.add(name: "content-type", value: "application/json")
    request.body = .bytes(ByteBuffer(bytes: body))
    let started = ContinuousClock.now
    // Generous: a loaded two-core CI machine has stretched a one-slot stream past 10 s.
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
    var answer = StreamedAnswer(
        status: Int(response.status.code),
        contentType: response.headers.first(name: "content-type"),
        started: started,
        events: [],
        raw: ""
    )
    var parser = ServerSentEventParser()
    var raw: [UInt8] = []
    var sawToken = false
    do {
        for try await buffer in response.body {
            let now = ContinuousClock.now
            let bytes = Array(buffer.readableBytesView)
            raw += bytes
            for event in try parser.feed(bytes) {
                answer.events.append((event, now))
                if !sawToken, StreamedAnswer.carriesToken(event) {
                    sawToken = true
                    onFirstToken()
                }
            }
        }
    } catch {
        answer.bodyError = String(describing: error)
    }
    answer.raw = String(decoding: raw, as: UTF8.self)
    return answer
}

/// What a plain (non-streamed) chat answer says.
struct PlainChat: Sendable, Hashable {
    var id: String
    var model: String
    var created: Int
    var content: String
    var finishReason: String
    var promptTokens: Int
    var completionTokens: Int
    var totalTokens: Int

    init(_ body: JSONObject) throws {
        let choice = try #require((body["choices"] as? [JSONObject])?.first)
        let usage = try #require(body["usage"] as? JSONObject)
        id = try #require(body["id"] as? String)
        model = try #require(body["model"] as? String)
        created = try #require(body["created"] as? Int)
        content = try #require((choice["message"] as? JSONObject)?["content"] as? String)
        finishReason = try #require(choice["finish_reason"] as? String)
        promptTokens = try #require(usage["prompt_tokens"] as? Int)
        completionTokens = try #require(usage["completion_tokens"] as? Int)
        totalTokens = try #require(usage["total_tokens"] as? Int)
    }
}

/// The plain (non-streamed) answer of a simulator without faults, for `prompt`.
func plainAnswer(_ prompt: String, maxTokens: Int? = nil) async throws -> PlainChat {
    try await withSimulator { server in
        try await plainAnswer(server, prompt, maxTokens: maxTokens)
    }
}

/// The plain (non-streamed) answer of `server` for `prompt`.
func plainAnswer(_ server: Simulator.Running, _ prompt: String, maxTokens: Int? = nil) async throws -> PlainChat {
    var json = validRequest("chat/completions", prompt)
    if let maxTokens { json["max_tokens"] = maxTokens }
    let answer = try await API(server).post("chat/completions", json)
    #expect(answer.status == 200)
    return try PlainChat(answer.body)
}
