import Foundation
import PacerOpenAI
import Testing

/// The byte-level request writer says what `JSONEncoder` would (issue 12): every request
/// reads back as itself.
@Suite struct ChatRequestWritingTests {
    @Test(arguments: [
        ChatCompletionRequest(model: "gpt-4o-mini", messages: [.user("hi")]),
        ChatCompletionRequest(
            model: "m\"odel\\",
            messages: [.system("be \"brief\"\n\ttabs\u{1}"), .user("naïve café 日本 🎉 </script>"), .assistant("")],
            maxTokens: 9_223_372_036_854_775_807,
            temperature: 0.7
        ),
        ChatCompletionRequest(
            model: "x",
            messages: [],
            maxTokens: 1,
            temperature: 1e-7,
            stream: true,
            streamOptions: .init(includeUsage: true)
        ),
        ChatCompletionRequest(
            model: "x",
            messages: [.user("a")],
            stream: false,
            streamOptions: .init(includeUsage: false)
        ),
    ])
    func readsBackAsItself(request: ChatCompletionRequest) throws {
        let decoded = try JSONDecoder().decode(ChatCompletionRequest.self, from: Data(request.jsonBytes))
        #expect(decoded == request)
        // Absent options stay absent, as JSONEncoder leaves them out.
        let object = try #require(try JSONSerialization.jsonObject(with: Data(request.jsonBytes)) as? [String: Any])
        #expect((object["max_tokens"] != nil) == (request.maxTokens != nil))
        #expect((object["stream"] != nil) == (request.stream != nil))
    }
}
