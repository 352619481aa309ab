import PacerCore
import PacerHTTP
import PacerJSON
import Testing

@testable import PacerOpenAI

/// Server-Sent Events and streamed chat completions (issue 11): the quirks real servers send.
@Suite struct StreamingTests {
    func parse(_ chunks: [String]) throws -> [ServerSentEvent] {
        var parser = ServerSentEventParser()
        return try chunks.flatMap { try parser.feed(Array($0.utf8)) }
    }

    @Test func linesEndWithLFOrCRLFOrCREvenSplitAcrossChunks() throws {
        let events = try parse(["data: a\r", "\ndata: b\r\n\r", "\ndata: c\r\rdata: d\n\n"])
        #expect(events.map(\.data) == ["a\nb", "c", "d"])
    }

    @Test func commentsAreSkippedAndDataLinesJoin() throws {
        let events = try parse([": ping\n\n", ": OPENROUTER PROCESSING\ndata: one\ndata:two\ndata\n\n"])
        #expect(events == [ServerSentEvent(data: "one\ntwo\n")])
    }

    @Test func eventTypeAndIdAreKeptAndAnEventWithoutDataIsNotDispatched() throws {
        let events = try parse(["event: error\nid: 7\ndata: {\"error\":{}}\n\n", "event: lonely\n\n"])
        #expect(events == [ServerSentEvent(event: "error", data: #"{"error":{}}"#, id: "7")])
    }

    @Test func anUnterminatedLastEventIsDroppedAndHugeLinesAreRefused() throws {
        var parser = ServerSentEventParser(maxLineBytes: 8)
        #expect(try parser.feed(Array("data: x".utf8)).isEmpty)
        parser.finish()
        #expect(try parser.feed(Array("\n".utf8)).isEmpty, "the pending line was dropped")
        #expect(throws: ServerSentEventParser.LineTooLong.self) { try parser.feed(Array("data: 123456789".utf8)) }
    }

    func chunk(_ delta: String, finish: String? = nil, usage: String? = nil) -> ServerSentEvent {
        let reason = finish.map { #""\#($0)""# } ?? "null"
        let usageField = usage.map { #","usage":\#($0)"# } ?? ""
        return ServerSentEvent(
            data:
                #"{"id":"chatcmpl-1","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":\#(delta),"finish_reason":\#(reason)}]\#(usageField)}"#
        )
    }

    @Test func aWholeStreamAssemblesTheMessageAndItsUsage() {
        var assembler = ChatStreamAssembler()
        let events = [
            chunk(#"{"role":"assistant","content":""}"#), chunk(#"{"content":"Hel"}"#), chunk(#"{"content":"lo"}"#),
            chunk("{}", finish: "stop"),
            ServerSentEvent(
                data:
                    #"{"id":"chatcmpl-1","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}"#
            ),
            ServerSentEvent(data: "[DONE]"),
        ]
        let steps = events.map { assembler.consume($0) }
        #expect(steps.last == .done && assembler.contentChunks == 2)
        guard case .complete(let chat) = assembler.finish(promptTokens: 0) else {
            Issue.record("not complete")
            return
        }
        #expect(chat.content == "Hello" && chat.finishReason == "stop" && chat.model == "m")
        #expect(chat.usage == TokenUsage(prompt: 9, completion: 2, total: 11) && !chat.usageIsEstimated)
    }

    @Test func doneWithoutAFinishReasonIsIncomplete() {
        // llama.cpp's server ends a running stream this way when another request arrives.
        var assembler = ChatStreamAssembler()
        _ = assembler.consume(chunk(#"{"content":"partial"}"#))
        #expect(assembler.consume(ServerSentEvent(data: "[DONE]")) == .done)
        guard case .incomplete = assembler.finish(promptTokens: 5) else {
            Issue.record("a stream without finish_reason must be incomplete")
            return
        }
    }

    @Test func anErrorEventMidStreamFailsWithTheServersMessage() {
        var assembler = ChatStreamAssembler()
        _ = assembler.consume(chunk(#"{"content":"a"}"#))
        let step = assembler.consume(ServerSentEvent(event: "error", data: #"{"error":{"message":"overloaded"}}"#))
        #expect(step == .failed("overloaded") && assembler.finish(promptTokens: 0) == .failed("overloaded"))
    }

    @Test func noUsageChunkIsEstimatedAsATokenAChunkAndSaysSo() {
        var assembler = ChatStreamAssembler()
        _ = assembler.consume(chunk(#"{"role":"assistant","content":""}"#))
        for piece in ["ab", "cd", "ef"] { _ = assembler.consume(chunk(#"{"content":"\#(piece)"}"#)) }
        _ = assembler.consume(chunk(#"{"content":"gh"}"#, finish: "length"))
        guard case .complete(let chat) = assembler.finish(promptTokens: 12) else {
            Issue.record("not complete")
            return
        }
        // Four chunks carried text; the text alone would estimate 2 (8 bytes).
        #expect(chat.usage == TokenUsage(prompt: 12, completion: 4, total: 16) && chat.usageIsEstimated)
        #expect(chat.content == "abcdefgh")
    }

    @Test func toolCallDeltasAreJoinedByIndex() {
        var assembler = ChatStreamAssembler()
        _ = assembler.consume(
            chunk(
                #"{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get","arguments":"{\"a\""}}]}"#
            )
        )
        _ = assembler.consume(
            chunk(#"{"tool_calls":[{"index":0,"function":{"arguments":":1}"}}]}"#, finish: "tool_calls")
        )
        guard case .complete(let chat) = assembler.finish(promptTokens: 0) else {
            Issue.record("not complete")
            return
        }
        #expect(chat.content == nil && chat.finishReason == "tool_calls")
        #expect(chat.toolCalls?.jsonText.contains(#"\"a\":1"#) == true, "\(chat.toolCalls?.jsonText ?? "")")
    }
}
