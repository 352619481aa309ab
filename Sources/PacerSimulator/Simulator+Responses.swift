import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import PacerCore
import PacerHTTP
import PacerJSON
import PacerOpenAI
import ServiceLifecycle

extension Simulator {
    /// Runs the common path of an API request: count it, apply the rate limits, check
    /// faults, wait, then answer; every answer carries the `x-ratelimit-*` headers (when
    /// limits are set) and an `x-request-id`, as OpenAI's do.
    ///
    /// - Parameters:
    ///   - item: The item key for `/stats`.
    ///   - tokens: For chat: the tokens the request may use (checked against the limit) and
    ///     the tokens it does use (charged).
    ///   - model: The model named in messages.
    ///   - stream: For a chat request with `"stream": true`: how to stream its answer (a 200
    ///     answer that carries ``Answer/chat`` is streamed, see ``streamed(_:tokens:request:fault:)``).
    ///   - answer: The normal answer and the tokens it delivers.
    func serve(
        item: String,
        context: SimulatorContext,
        tokens: (estimate: Int, charge: Int)? = nil,
        model: String = "gpt-4o-mini",
        stream: ChatStreamRequest? = nil,
        answer: () throws -> Answer
    ) async throws -> Response {
        stats.recordRequest(item: item)
        var response = try await limitedResponse(
            context: context,
            tokens: tokens,
            model: model,
            stream: stream,
            answer: answer
        )
        response.headers[HTTPField.Name(SimulatorDialect.current.requestIDHeader)!] = Self.requestID()
        return response
    }

    /// The answer under the rate limits: the normal path, or a 429 with OpenAI's headers.
    private func limitedResponse(
        context: SimulatorContext,
        tokens: (estimate: Int, charge: Int)?,
        model: String,
        stream: ChatStreamRequest?,
        answer: () throws -> Answer
    ) async throws -> Response {
        guard limiter.isActive else {
            return try await respond(context: context, stream: stream, answer: answer)
        }
        let verdict = limiter.admit(estimate: tokens?.estimate ?? 0, charge: tokens?.charge ?? 0, model: model)
        var response: Response
        if verdict.allowed {
            response = try await respond(context: context, stream: stream, answer: answer)
        } else {
            response = failure(
                .tooManyRequests,
                message: verdict.message ?? "Rate limit reached.",
                type: "requests",
                code: "rate_limit_exceeded"
            )
            if let wait = verdict.retryAfter {
                response.headers[HTTPField.Name("retry-after")!] = String(Int(wait.rounded(.up)))
                response.headers[HTTPField.Name("retry-after-ms")!] = String(Int((wait * 1000).rounded(.up)))
            }
        }
        for (name, value) in verdict.headers {
            response.headers[HTTPField.Name(name)!] = value
        }
        return response
    }

    /// Answers an admitted request: a fault, or the normal answer after the latency (streamed
    /// when `stream` asks for it; `slow` and `malformed` then play out in the stream).
    ///
    /// With slots, a plain answer holds a slot for its output tokens at the step time of the
    /// moment it got the slot (``SimulatorSlots/stepTime(busy:)``); a stream holds one to its
    /// end, at the step time of each token.
    private func respond(
        context: SimulatorContext,
        stream: ChatStreamRequest?,
        answer: () throws -> Answer
    ) async throws -> Response {
        let fault = drawFault()
        if configuration.latency > .zero {
            try await Self.sleep(for: configuration.latency)
        }
        switch fault {
        case .serverError?:
            return failure(
                .internalServerError,
                message: "The server had an error while processing your request. Sorry about that!",
                type: "server_error"
            )
        case .unavailable?:
            return failure(
                .serviceUnavailable,
                message: "The engine is currently overloaded, please try again later.",
                type: "server_error"
            )
        case .rateLimited?:
            var response = failure(
                .tooManyRequests,
                message:
                    "Rate limit reached (simulated). Please try again in \(configuration.retryAfter.pacerSeconds)s.",
                type: "requests",
                code: "rate_limit_exceeded"
            )
            let seconds = configuration.retryAfter.pacerSeconds
            response.headers[HTTPField.Name("retry-after")!] = String(Int(seconds.rounded(.up)))
            response.headers[HTTPField.Name("retry-after-ms")!] = String(Int((seconds * 1000).rounded()))
            return response
        case .drop?:
            stats.recordOutcome("drop")
            try await context.channel.close()
            throw SimulatorError(message: "connection dropped (simulated)")
        case .slow? where stream == nil:
            try await Self.sleep(for: configuration.slowDelay)
        case .malformed? where stream == nil:
            stats.recordOutcome("malformed")
            return Response(
                status: .ok,
                headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: #"{"id": "broken", "choices": [ {"messa"#))
            )
        case .rateLimitedBare?:
            return failure(
                .tooManyRequests,
                message: "Rate limit reached (simulated, no Retry-After).",
                type: "requests",
                code: "rate_limit_exceeded"
            )
        case .wrongType?:
            stats.recordOutcome("html")
            return Response(
                status: .ok,
                headers: [.contentType: "text/html"],
                body: .init(byteBuffer: ByteBuffer(string: "<html><body><h1>502 Bad Gateway</h1></body></html>"))
            )
        default:
            break
        }
        var answer = try answer()
        if let stream, answer.status == .ok, let chat = answer.chat {
            return try await streamed(chat, tokens: answer.tokens, request: stream, fault: fault)
        }
        if stream != nil, fault == .slow {
            // A stream request answered with an error: the delay its stream would have had.
            try await Self.sleep(for: configuration.slowDelay)
        }
        if let slots, answer.status == .ok {
            // Decoding takes a slot for the answer's output tokens; a full queue refuses.
            guard await slots.acquire() else {
                return failure(
                    .serviceUnavailable,
                    message: "server busy, please try again. maximum pending requests exceeded",
                    type: "server_error"
                )
            }
            let tokens = answer.tokens?.completion ?? 1
            do {
                try await Self.sleep(for: slots.stepTime() * max(1, tokens))
            } catch {
                slots.release()
                throw error
            }
            slots.release()
        }
        if fault == .truncate {
            return truncated(answer)
        }
        if fault == .stall {
            return stalled(answer)
        }
        if fault == .huge {
            answer.body = Self.padded(answer.body, toBytes: 3 << 20)
        }
        if let fault, let message = Self.message(for: fault) {
            answer.body = Self.replacingMessage(of: answer.body, with: message)
        }
        if fault == .slow {
            // The client has likely timed out and gone: count it apart, and not its tokens.
            stats.recordOutcome("slow")
            return Response(
                status: answer.status,
                headers: [.contentType: "application/json"],
                body: .init(byteBuffer: answer.body)
            )
        }
        stats.recordOutcome(String(answer.status.code), tokens: answer.status == .ok ? answer.tokens : nil)
        return Response(
            status: answer.status,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: answer.body)
        )
    }

    /// Sleeps like a slow server, but wakes when the server shuts down gracefully, so that
    /// stopping never waits out a long simulated latency.
    static func sleep(for duration: Duration) async throws {
        try await cancelWhenGracefulShutdown { try await Task.sleep(for: duration) }
    }

    /// Picks this request's fault, if any.
    func drawFault() -> Fault? {
        guard configuration.faultRate > 0, random.nextUnit() < configuration.faultRate else { return nil }
        let index = Int(random.nextUnit() * Double(configuration.faults.count))
        return configuration.faults[min(index, configuration.faults.count - 1)]
    }

    /// A JSON object body with a `padding` member added, so that it has about `bytes` bytes.
    static func padded(_ body: ByteBuffer, toBytes bytes: Int) -> ByteBuffer {
        var text = String(decoding: body.readableBytesView, as: UTF8.self)
        guard text.hasSuffix("}") else { return body }
        text.removeLast()
        let padding = String(repeating: "x", count: max(0, bytes - text.utf8.count))
        let separator = text.hasSuffix("{") ? "" : ","
        return ByteBuffer(string: text + separator + #""padding":""# + padding + #""}"#)
    }

    /// The `choices[0]` fields a refusal, tool-call or wrong-shape fault answers with, if
    /// `fault` is one of those.
    static func message(for fault: Fault) -> (message: JSONValue, finishReason: String)? {
        switch fault {
        case .refusal:
            let refusal = JSONValue.object([
                "role": .string("assistant"), "content": .null,
                "refusal": .string("I'm sorry, but I can't help with that (simulated refusal)."),
            ])
            return (refusal, "stop")
        case .toolCalls:
            let call = JSONValue.object([
                "id": .string("call_sim0001"),
                "type": .string("function"),
                "function": .object(["name": .string("lookup"), "arguments": .string(#"{"query":"pacing"}"#)]),
            ])
            return (
                .object(["role": .string("assistant"), "content": .null, "tool_calls": .array([call])]), "tool_calls"
            )
        case .wrongShape:
            return (.string("simulated: a message that is a string, not an object"), "stop")
        default:
            return nil
        }
    }

    /// A chat completion body with `choices[0]`'s message and finish reason replaced; any
    /// other body (a post, the answer of another endpoint) unchanged.
    static func replacingMessage(
        of body: ByteBuffer,
        with replacement: (message: JSONValue, finishReason: String)
    ) -> ByteBuffer {
        guard case .object(var completion)? = try? JSONValue(parsing: body),
            completion["object"] == .string("chat.completion"),
            case .array(var choices)? = completion["choices"], case .object(var choice)? = choices.first
        else { return body }
        choice["message"] = replacement.message
        choice["finish_reason"] = .string(replacement.finishReason)
        choices[0] = .object(choice)
        completion["choices"] = .array(choices)
        return ByteBuffer(string: JSONValue.object(completion).jsonText)
    }

    /// A response whose headers announce the whole body but which sends half of it and
    /// then closes the connection.
    func truncated(_ answer: Answer) -> Response {
        stats.recordOutcome("truncate")
        let body = answer.body
        return Response(
            status: answer.status,
            headers: [.contentType: "application/json"],
            body: ResponseBody(contentLength: body.readableBytes) { writer in
                try await writer.write(
                    body.getSlice(at: body.readerIndex, length: body.readableBytes / 2) ?? ByteBuffer()
                )
                throw SimulatorError(message: "response truncated (simulated)")
            }
        )
    }

    /// A response that sends its headers and half its body, then waits ``slowDelay`` before
    /// the rest.
    func stalled(_ answer: Answer) -> Response {
        stats.recordOutcome("stall")
        let body = answer.body
        let half = body.readableBytes / 2
        let delay = configuration.slowDelay
        return Response(
            status: answer.status,
            headers: [.contentType: "application/json"],
            body: ResponseBody(contentLength: body.readableBytes) { writer in
                try await writer.write(body.getSlice(at: body.readerIndex, length: half) ?? ByteBuffer())
                try await Self.sleep(for: delay)
                try await writer.write(
                    body.getSlice(at: body.readerIndex + half, length: body.readableBytes - half) ?? ByteBuffer()
                )
                try await writer.finish(nil)
            }
        )
    }

    /// A normal answer before faults are applied: status, JSON body and tokens delivered.
    struct Answer {
        var status: HTTPResponse.Status
        var body: ByteBuffer
        var tokens: TokenUsage?
        /// A chat completion's answer, to stream when the request asks for a stream.
        var chat: ChatCompletionResponse?

        init(_ value: some Encodable, status: HTTPResponse.Status = .ok, tokens: TokenUsage? = nil) {
            self.status = status
            self.body = ByteBuffer(bytes: (try? JSONEncoder().encode(value)) ?? Data("{}".utf8))
            self.tokens = tokens
        }
    }

    /// A JSON response.
    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? JSONEncoder().encode(value)) ?? Data("{}".utf8)
        return Response(
            status: status,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: data))
        )
    }

    /// An error response in OpenAI's shape.
    func failure(
        _ status: HTTPResponse.Status,
        message: String,
        type: String,
        param: String? = nil,
        code: String? = nil
    ) -> Response {
        if SimulatorDialect.current == .anthropic {
            let (code, type) = AnthropicErrorBody.translating(status: status.code)
            stats.recordOutcome(String(code))
            var response = Self.json(
                AnthropicErrorBody(error: .init(type: type, message: message)),
                status: HTTPResponse.Status(code: code)
            )
            response.headers[HTTPField.Name("request-id")!] = Self.requestID()
            return response
        }
        stats.recordOutcome(String(status.code))
        var response = Self.json(
            OpenAIErrorBody(error: .init(message: message, type: type, param: param, code: code)),
            status: status
        )
        response.headers[HTTPField.Name("x-request-id")!] = Self.requestID()
        return response
    }

    /// A new `x-request-id`, as OpenAI sends with every answer.
    static func requestID() -> String {
        "req_" + String(UInt64.random(in: 1...UInt64.max), radix: 16)
    }

    /// A 401 when a key is configured and the request does not carry it.
    func checkKey(_ request: Request) -> Response? {
        guard let key = configuration.apiKey else { return nil }
        let given = request.headers[.authorization]
        // OpenAI's Bearer token, or Azure's `api-key`.
        guard given != "Bearer \(key)", request.headers[HTTPField.Name("api-key")!] != key else { return nil }
        let message =
            given == nil
            ? "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
            // OpenAI masks the middle of the key it echoes; the simulator echoes all of it, as a
            // careless compatible server might, so that Pacer's redaction is tested end to end.
            : "Incorrect API key provided: \(given?.replacingOccurrences(of: "Bearer ", with: "") ?? ""). You can find your API key at https://platform.openai.com/account/api-keys."
        return failure(
            .unauthorized,
            message: message,
            type: "invalid_request_error",
            code: given == nil ? nil : "invalid_api_key"
        )
    }

    static let models = ModelList(
        data: ["gpt-4o-mini", "gpt-4o", "gpt-4.1", "gpt-4.1-mini", "gpt-3.5-turbo"].map {
            ModelList.Model(id: $0, created: 1_700_000_000, ownedBy: "pacer-simulator")
        }
    )
}
