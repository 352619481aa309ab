import PacerCore
import PacerHTTP
import PacerJSON
import Testing

@testable import PacerOpenAI

/// The endpoint descriptors: routing a Batch API `url`, the token estimate of a request and
/// the usage of an answer, each in its endpoint's own shape.
@Suite struct APIEndpointTests {
    func json(_ text: String) throws -> JSONValue { try JSONValue(parsing: text) }

    @Test(arguments: [
        ("/v1/chat/completions", APIEndpoint.chatCompletions), ("/chat/completions", .chatCompletions),
        ("/v1/embeddings", .embeddings), ("v1/completions", .completions), ("/v1/responses/", .responses),
        ("/v1/moderations", .moderations),
    ])
    func aBatchURLNamesItsEndpoint(url: String, endpoint: APIEndpoint) {
        #expect(APIEndpoint(batchURL: url) == endpoint)
    }

    @Test func otherURLsAreNotEndpoints() {
        // Anthropic's path is no OpenAI Batch API line's.
        for url in ["/v1/files", "/v1/chat", "/v2/embeddings", "", "/v1/embeddings/extra", "/v1/messages"] {
            #expect(APIEndpoint(batchURL: url) == nil, "\(url)")
        }
    }

    @Test func theRootsVersionIsNotDoubled() {
        #expect(APIEndpoint.embeddings.url(base: "https://api.openai.com/v1") == "https://api.openai.com/v1/embeddings")
        #expect(APIEndpoint.responses.url(base: "http://127.0.0.1:8000/v1/") == "http://127.0.0.1:8000/v1/responses")
    }

    /// The engine reserves, for each operation that sends API requests, the endpoint's
    /// estimate (one shared implementation, picked over the protocol's default of 0).
    @Test func everyOperationThatSendsAPIRequestsReservesTheEndpointsEstimate() async throws {
        func reserved<Operation: BatchOperation>(_ operation: Operation, _ input: Operation.Input) -> Int {
            operation.estimatedTokens(for: input)
        }
        let request = APIRequest(endpoint: .embeddings, body: try json(#"{"input":"abcdabcd"}"#))
        try await HTTPTransport.withTransport { transport in
            let client = APIClient(
                configuration: .init(access: APIAccess(baseURL: "http://127.0.0.1:9/v1")),
                transport: transport
            )
            #expect(reserved(client, request) == 2)
            #expect(reserved(APISender.direct(client), request) == 2)
        }
    }

    @Test func estimatesCountInputsAndTheOutputAllowed() throws {
        // 40 bytes is 10 tokens.
        let text = String(repeating: "abcd", count: 10)
        #expect(APIEndpoint.embeddings.estimatedTokens(of: try json(#"{"input":"\#(text)"}"#)) == 10)
        #expect(APIEndpoint.embeddings.estimatedTokens(of: try json(#"{"input":["\#(text)","\#(text)"]}"#)) == 20)
        #expect(APIEndpoint.embeddings.estimatedTokens(of: try json(#"{"input":[[1,2,3],[4,5]]}"#)) == 5)
        #expect(APIEndpoint.moderations.estimatedTokens(of: try json(#"{"input":"\#(text)"}"#)) == 10)
        // Legacy completions allow 16 tokens by default, per prompt.
        #expect(APIEndpoint.completions.estimatedTokens(of: try json(#"{"prompt":"\#(text)"}"#)) == 26)
        #expect(
            APIEndpoint.completions.estimatedTokens(of: try json(#"{"prompt":["\#(text)","x"],"max_tokens":5}"#)) == 21
        )
        #expect(
            APIEndpoint.responses.estimatedTokens(of: try json(#"{"input":"\#(text)","max_output_tokens":100}"#))
                == 3 + 4 + 10 + 100
        )
        // Instructions count as a system message, input items as messages.
        #expect(
            APIEndpoint.responses.estimatedTokens(
                of: try json(#"{"instructions":"\#(text)","input":[{"role":"user","content":"\#(text)"}]}"#)
            ) == 3 + 4 + 10 + 4 + 10 + 256
        )
        // Chat counts as `TokenEstimate.prompt` does: 3, then 4 and the text per message.
        #expect(
            APIEndpoint.chatCompletions.estimatedTokens(
                of: try json(#"{"messages":[{"role":"user","content":"\#(text)"}],"max_completion_tokens":7}"#)
            ) == 3 + 4 + 10 + 7
        )
        #expect(
            APIEndpoint.chatCompletions.estimatedTokens(
                of: try json(
                    #"{"messages":[{"role":"user","content":[{"type":"text","text":"\#(text)"}]}],"max_tokens":1}"#
                )
            ) == 3 + 4 + 10 + 1
        )
        // A limit no Int holds saturates instead of trapping.
        #expect(
            APIEndpoint.completions.estimatedTokens(
                of: try json(#"{"prompt":"x","max_tokens":9223372036854775807,"n":3}"#)
            )
                == Int.max
        )
    }

    @Test func usageIsReadInEachEndpointsShape() throws {
        let chat = try json(#"{"usage":{"prompt_tokens":9,"completion_tokens":11,"total_tokens":20}}"#)
        #expect(APIEndpoint.chatCompletions.usage(in: chat) == TokenUsage(prompt: 9, completion: 11, total: 20))
        let responses = try json(#"{"usage":{"input_tokens":5,"output_tokens":6,"total_tokens":11}}"#)
        #expect(APIEndpoint.responses.usage(in: responses) == TokenUsage(prompt: 5, completion: 6, total: 11))
        let embeddings = try json(#"{"usage":{"prompt_tokens":8,"total_tokens":8}}"#)
        #expect(APIEndpoint.embeddings.usage(in: embeddings) == TokenUsage(prompt: 8, completion: 0, total: 8))
        #expect(APIEndpoint.moderations.usage(in: try json(#"{"results":[]}"#)) == nil)
        // Anthropic's prompt-cache reads and writes are input tokens too.
        let messages = try json(
            #"{"usage":{"input_tokens":5,"output_tokens":7,"cache_creation_input_tokens":10,"cache_read_input_tokens":20}}"#
        )
        #expect(APIEndpoint.messages.usage(in: messages) == TokenUsage(prompt: 35, completion: 7, total: 42))
    }

    @Test func aMessagesEstimateCountsTheSystemPromptAndMaxTokens() throws {
        let bare = try json(
            #"{"model":"claude-haiku-4-5","max_tokens":100,"messages":[{"role":"user","content":"hello there"}]}"#
        )
        let withSystem = try json(
            #"{"model":"claude-haiku-4-5","max_tokens":100,"system":[{"type":"text","text":"You are a careful assistant who answers briefly."}],"messages":[{"role":"user","content":"hello there"}]}"#
        )
        let (input, output) = APIEndpoint.messages.tokenEstimate(of: bare)
        #expect(output == 100)
        #expect(APIEndpoint.messages.tokenEstimate(of: withSystem).input > input + 8)
        // Claude's dated snapshots take their model's price.
        #expect(
            PricingTable.builtIn.price(for: "claude-haiku-4-5-20251001")
                == PricingTable.builtIn.price(for: "claude-haiku-4-5")
        )
        #expect(PricingTable.builtIn.price(for: "claude-haiku-4-5") != nil)
    }

    @Test func anAnswerWithoutItsEndpointsPayloadIsAProblem() throws {
        let request = try json(#"{"input":["a","b"]}"#)
        #expect(APIEndpoint.embeddings.problem(with: try json(#"{"data":[{},{}]}"#), request: request) == nil)
        #expect(APIEndpoint.embeddings.problem(with: try json(#"{"data":[{}]}"#), request: request) != nil)
        #expect(APIEndpoint.responses.problem(with: try json(#"{"error":"x"}"#), request: request) != nil)
        #expect(APIEndpoint.moderations.problem(with: try json(#"{"results":[{}]}"#), request: request) == nil)
    }
}
