import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import PacerHTTP
import PacerSimulator
import PacerTesting
import Testing

/// The simulator's `POST /v1/messages` speaks Anthropic's Messages API: its request and answer
/// shapes, its headers (`x-api-key`, `anthropic-version`, `anthropic-ratelimit-*`,
/// `request-id`) and its errors (`{"type": "error", "error": {"type", "message"}}`, 529
/// `overloaded_error`), under the same limits and faults as the OpenAI endpoints.
@Suite struct AnthropicMessagesTests {
    private let transport = HTTPTransport(client: .shared)

    func send(
        _ server: Simulator.Running,
        _ body: [String: Any],
        key: String? = nil,
        version: String? = "2023-06-01"
    ) async throws -> (status: Int, headers: HTTPHeaders, body: [String: Any]) {
        var headers: HTTPHeaders = ["content-type": "application/json"]
        if let key { headers.add(name: "x-api-key", value: key) }
        if let version { headers.add(name: "anthropic-version", value: version) }
        let response = try await transport.send(
            HTTPRequestSpec(
                method: .POST,
                url: server.baseURL + "/messages",
                headers: headers,
                body: ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body))
            )
        )
        let json = try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]
        return (response.status, response.headers, json ?? [:])
    }

    static var request: [String: Any] {
        [
            "model": "claude-sonnet-4-5", "max_tokens": 64, "system": "Be brief.",
            "messages": [["role": "user", "content": [["type": "text", "text": "Name a colour."]]]],
        ]
    }

    /// `error` of an Anthropic error body, checked to have its shape.
    func anthropicError(_ body: [String: Any]) throws -> [String: Any] {
        #expect(body["type"] as? String == "error")
        let error = try #require(body["error"] as? [String: Any], "not an Anthropic error: \(body)")
        #expect(error["message"] is String)
        return error
    }

    @Test func aMessageIsAnsweredInAnthropicsShapeTheSameEachTime() async throws {
        try await withSimulator { server in
            let first = try await send(server, Self.request)
            #expect(first.status == 200)
            #expect(first.body["type"] as? String == "message")
            #expect(first.body["role"] as? String == "assistant")
            #expect(first.body["model"] as? String == "claude-sonnet-4-5")
            #expect((first.body["id"] as? String)?.hasPrefix("msg_") == true)
            let content = try #require(first.body["content"] as? [[String: Any]])
            #expect(content.first?["type"] as? String == "text")
            let text = content.first?["text"] as? String ?? ""
            #expect(text.count > 10)
            #expect(["end_turn", "max_tokens"].contains(first.body["stop_reason"] as? String ?? ""))
            #expect(first.body.keys.contains("stop_sequence"))
            let usage = try #require(first.body["usage"] as? [String: Int])
            #expect((usage["input_tokens"] ?? 0) > 0 && (usage["output_tokens"] ?? 0) > 0)
            #expect(first.headers.first(name: "request-id") != nil)
            #expect(first.headers.first(name: "x-request-id") == nil)
            let again = try await send(server, Self.request)
            #expect(
                (again.body["content"] as? [[String: Any]])?.first?["text"] as? String == content.first?["text"]
                    as? String
            )
        }
    }

    @Test func badRequestsGetAnthropicsErrors() async throws {
        try await withSimulator(SimulatorConfiguration(apiKey: "sk-ant-test")) { server in
            let noKey = try await send(server, Self.request)
            #expect(noKey.status == 401)
            #expect(try anthropicError(noKey.body)["type"] as? String == "authentication_error")
            let noVersion = try await send(server, Self.request, key: "sk-ant-test", version: nil)
            #expect(noVersion.status == 400)
            #expect(try anthropicError(noVersion.body)["message"] as? String == "anthropic-version: header is required")
            var noMaxTokens = Self.request
            noMaxTokens["max_tokens"] = nil
            let missing = try await send(server, noMaxTokens, key: "sk-ant-test")
            #expect(missing.status == 400)
            #expect(try anthropicError(missing.body)["type"] as? String == "invalid_request_error")
            #expect((try anthropicError(missing.body)["message"] as? String)?.contains("max_tokens") == true)
        }
    }

    @Test func anOverloadedServerAnswers529OverloadedError() async throws {
        try await withSimulator(SimulatorConfiguration(faultRate: 1, faults: [.unavailable])) { server in
            let answer = try await send(server, Self.request)
            #expect(answer.status == 529)
            #expect(try anthropicError(answer.body)["type"] as? String == "overloaded_error")
        }
    }

    @Test func limitsAreAnnouncedAndEnforcedInAnthropicsHeaders() async throws {
        try await withSimulator(SimulatorConfiguration(requestsPerMinute: 60, limitWindow: .quantized)) { server in
            let first = try await send(server, Self.request)
            #expect(first.status == 200)
            #expect(first.headers.first(name: "anthropic-ratelimit-requests-limit") == "60")
            #expect(first.headers.first(name: "anthropic-ratelimit-requests-remaining") != nil)
            let reset = try #require(first.headers.first(name: "anthropic-ratelimit-requests-reset"))
            #expect((try? Date(reset, strategy: .iso8601)) != nil, "\(reset) is not an RFC 3339 time")
            #expect(first.headers.first(name: "x-ratelimit-limit-requests") == nil)
            // A second's worth is 1 request: the next ones at once are refused.
            var refused: (status: Int, headers: HTTPHeaders, body: [String: Any])?
            for _ in 0..<3 {
                let answer = try await send(server, Self.request)
                if answer.status == 429 { refused = answer }
            }
            let limited = try #require(refused)
            #expect(try anthropicError(limited.body)["type"] as? String == "rate_limit_error")
            #expect(limited.headers.first(name: "retry-after") != nil)
        }
    }
}
