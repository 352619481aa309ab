import Foundation
import PacerCore
import PacerHTTP
import PacerJSON
import PacerOpenAI
import PacerSimulator
import PacerTesting
import Testing

/// Streamed chat completions (`"stream": true`) against the real simulator over loopback.
@Suite struct StreamingSimulatorTests {
    let prompt = "Explain pacing in one paragraph"

    /// `by_status` and the total tokens of `/stats`.
    func outcomes(_ server: Simulator.Running) async throws -> (byStatus: [String: Int], total: Int, streams: Int) {
        let stats = try await API(server).stats()
        let byStatus = stats["by_status"] as? [String: Int] ?? [:]
        let total = (stats["tokens"] as? JSONObject)?["total"] as? Int ?? -1
        return (byStatus, total, stats["streams"] as? Int ?? -1)
    }

    @Test func aStreamCarriesThePlainAnswerOneChunkPerTokenAndTheUsageWhenAsked() async throws {
        try await withSimulator { server in
            let plain = try await plainAnswer(server, prompt)
            let answer = try await streamChat(server, chatBody(prompt, includeUsage: true))
            #expect(answer.status == 200)
            #expect(answer.contentType?.hasPrefix("text/event-stream") == true)
            #expect(answer.bodyError == nil)
            #expect(answer.endsWithDone)
            #expect(answer.raw.hasSuffix("\n\ndata: [DONE]\n\n"))
            #expect(!answer.raw.contains("\r"))

            let chunks = answer.chunks
            #expect(chunks.count == plain.completionTokens + 3, "role, one per token, finish, usage")
            for chunk in chunks {
                #expect(chunk["id"] as? String == plain.id)
                #expect(chunk["object"] as? String == "chat.completion.chunk")
                #expect(chunk["model"] as? String == plain.model)
                #expect(chunk["created"] as? Int == plain.created)
            }
            let choices = answer.choices
            let first = try #require(choices.first)
            let firstDelta = try #require(first["delta"] as? JSONObject)
            #expect(firstDelta["role"] as? String == "assistant")
            #expect(firstDelta["content"] as? String == "")
            #expect(first["finish_reason"] is NSNull)
            // One word per chunk, the words adding up to the plain answer exactly.
            let pieces = answer.contentPieces
            #expect(pieces.count == plain.completionTokens)
            #expect(pieces.joined() == plain.content)
            #expect(pieces.dropFirst().allSatisfy { $0.hasPrefix(" ") && $0.split(separator: " ").count == 1 })
            // The finish chunk: an empty delta and the plain answer's finish reason.
            let finish = try #require(choices.last)
            #expect((finish["delta"] as? JSONObject)?.isEmpty == true)
            #expect(finish["finish_reason"] as? String == plain.finishReason)
            #expect(choices.dropLast().allSatisfy { $0["finish_reason"] is NSNull })
            // The usage chunk: no choices, the plain usage; every chunk before it has `usage: null`.
            let last = try #require(chunks.last)
            #expect((last["choices"] as? [Any])?.isEmpty == true)
            let usage = try #require(last["usage"] as? JSONObject)
            #expect(usage["prompt_tokens"] as? Int == plain.promptTokens)
            #expect(usage["completion_tokens"] as? Int == plain.completionTokens)
            #expect(usage["total_tokens"] as? Int == plain.totalTokens)
            #expect(chunks.dropLast().allSatisfy { $0["usage"] is NSNull })

            guard case .complete(let chat) = answer.assembled() else {
                Issue.record("not whole: \(answer.assembled())")
                return
            }
            #expect(chat.content == plain.content && chat.id == plain.id && chat.finishReason == plain.finishReason)
            #expect(
                chat.usage
                    == TokenUsage(
                        prompt: plain.promptTokens,
                        completion: plain.completionTokens,
                        total: plain.totalTokens
                    )
            )
            #expect(!chat.usageIsEstimated)

            let stats = try await outcomes(server)
            #expect(stats.byStatus == ["200": 2])
            #expect(stats.total == 2 * plain.totalTokens)
            #expect(stats.streams == 1)
        }
    }

    @Test func withoutIncludeUsageNoChunkCarriesUsageAndLengthEndsAtMaxTokens() async throws {
        try await withSimulator { server in
            let answer = try await streamChat(server, chatBody(prompt, maxTokens: 3))
            #expect(answer.endsWithDone)
            #expect(answer.chunks.count == 5, "role, 3 tokens, finish")
            #expect(answer.chunks.allSatisfy { $0["usage"] == nil })
            #expect(answer.contentPieces.count == 3)
            #expect(answer.choices.last?["finish_reason"] as? String == "length")
            let withoutUsage = try await streamChat(server, chatBody(prompt, includeUsage: false))
            #expect(withoutUsage.chunks.allSatisfy { $0["usage"] == nil })
            guard case .complete(let chat) = answer.assembled(promptTokens: 7) else {
                Issue.record("not whole")
                return
            }
            #expect(chat.usageIsEstimated)
            // `"stream": false` is a plain answer.
            let plain = try await API(server).post(
                "chat/completions",
                ["model": "gpt-4o-mini", "messages": [["role": "user", "content": prompt]], "stream": false]
            )
            #expect(plain.body["object"] as? String == "chat.completion")
        }
    }

    @Test func withSlotsTokensArePacedAndASecondStreamWaitsForTheSlot() async throws {
        // Five tokens of 100 ms. The bounds are measured from when the first request was sent,
        // never between two arrivals: a reader starved of CPU sees chunks late and bunched
        // together (a spread between arrivals then shrinks to nothing), but never early.
        let step = Duration.milliseconds(100)
        let configuration = SimulatorConfiguration(slots: SimulatorSlots(count: 1, tokenLatency: step))
        try await withSimulator(configuration) { server in
            let (firstToken, signal) = AsyncStream.makeStream(of: Void.self)
            async let first = streamChat(server, chatBody("first stream", maxTokens: 5, includeUsage: true)) {
                signal.finish()
            }
            for await _ in firstToken {}
            let second = try await streamChat(server, chatBody("second stream", maxTokens: 5, includeUsage: true))
            let one = try await first

            let tokens = one.tokenTimes
            let count = try #require(one.chunks.last?["usage"] as? JSONObject)["completion_tokens"] as? Int
            #expect(tokens.count == count)
            #expect(tokens.count == 5)
            let firstAt = try #require(tokens.first)
            let lastAt = try #require(tokens.last)
            // Paced, not sent at once: the last token a token time per token in (less one for
            // slack), the first one token time in.
            #expect(lastAt - one.started >= step * (tokens.count - 1), "\(lastAt - one.started)")
            #expect(firstAt - one.started >= step / 2)
            // The second stream got the slot once the first was over: its first token came
            // after all of the first's and one more token time (less one for slack), where a
            // free slot would give it about two token times in.
            let secondFirst = try #require(second.tokenTimes.first)
            #expect(secondFirst - one.started >= step * tokens.count, "\(secondFirst - one.started)")
            #expect(second.endsWithDone && one.endsWithDone)
            let stats = try await outcomes(server)
            #expect(stats.byStatus == ["200": 2] && stats.streams == 2)
        }
    }

    @Test func withoutSlotsTokenLatencyPacesStreams() async throws {
        // Measured from the request, not between arrivals, which a starved reader bunches (see
        // the test above).
        let step = Duration.milliseconds(100)
        try await withSimulator(SimulatorConfiguration(streamTokenLatency: step)) { server in
            let answer = try await streamChat(server, chatBody(prompt, maxTokens: 5))
            let tokens = answer.tokenTimes
            #expect(tokens.count == 5)
            let took = try #require(tokens.last) - answer.started
            #expect(took >= step * (tokens.count - 1), "\(took)")
            #expect(answer.endsWithDone)
        }
    }

    @Test func stepTimeGrowsGentlyWithTheBusySlots() {
        let slots = SimulatorSlots(count: 8, tokenLatency: .milliseconds(100))
        #expect(slots.stepTime(busy: 1) == .milliseconds(100))
        #expect(slots.stepTime(busy: 0) == .milliseconds(100))
        #expect(slots.stepTime(busy: 8) == .milliseconds(121))
    }

    @Test func llamaQuirksPingAndEndLinesWithCRLFAndSendNoUsage() async throws {
        try await withSimulator(SimulatorConfiguration(llamaQuirks: true)) { server in
            let plain = try await plainAnswer(server, prompt)
            let answer = try await streamChat(server, chatBody(prompt, includeUsage: true))
            #expect(answer.status == 200)
            #expect(answer.raw.hasPrefix(": ping\r\n\r\ndata: {"))
            #expect(answer.raw.hasSuffix("\r\n\r\ndata: [DONE]\r\n\r\n"))
            // Every line feed ends a CRLF.
            let bytes = Array(answer.raw.utf8)
            let lineFeeds = bytes.indices.filter { bytes[$0] == UInt8(ascii: "\n") }
            #expect(!lineFeeds.isEmpty && lineFeeds.allSatisfy { $0 > 0 && bytes[$0 - 1] == UInt8(ascii: "\r") })
            let pings = answer.raw.components(separatedBy: ": ping\r\n").count - 1
            #expect(pings == (plain.completionTokens + 2 + 3) / 4, "a ping before the first and every 4th chunk")
            #expect(answer.chunks.count == plain.completionTokens + 2)
            #expect(answer.chunks.allSatisfy { $0["usage"] == nil })
            #expect((answer.choices.first?["delta"] as? JSONObject)?["content"] is NSNull)
            guard case .complete(let chat) = answer.assembled(promptTokens: plain.promptTokens) else {
                Issue.record("not whole")
                return
            }
            #expect(chat.content == plain.content && chat.finishReason == plain.finishReason)
            #expect(chat.usageIsEstimated)
            #expect(try await outcomes(server).byStatus == ["200": 2])
        }
    }

    @Test func aLlamaStreamIsCutWhenAnotherRequestArrives() async throws {
        // Tokens of 250 ms: the whole answer (21 tokens) would take over 5 s, time enough for
        // the other request to arrive on a starved machine; the cut ends the test at once. (The
        // other request asks for one token: a plain answer holds its slot a step per token.)
        let configuration = SimulatorConfiguration(
            slots: SimulatorSlots(count: 2, tokenLatency: .milliseconds(250)),
            llamaQuirks: true,
            cutRate: 1
        )
        let whole = try await plainAnswer(prompt, maxTokens: 40)
        try await withSimulator(configuration) { server in
            let (firstToken, signal) = AsyncStream.makeStream(of: Void.self)
            async let cut = streamChat(server, chatBody(prompt, maxTokens: 40)) { signal.finish() }
            for await _ in firstToken {}
            let other = try await plainAnswer(server, "another request", maxTokens: 1)
            let answer = try await cut
            #expect(answer.endsWithDone)
            #expect(answer.bodyError == nil)
            // Ended before its last token, and without a finish reason.
            #expect(answer.choices.allSatisfy { $0["finish_reason"] is NSNull })
            #expect(
                (1..<whole.completionTokens).contains(answer.contentPieces.count),
                "\(answer.contentPieces.count) of \(whole.completionTokens) tokens"
            )
            guard case .incomplete = answer.assembled() else {
                Issue.record("not incomplete: \(answer.assembled())")
                return
            }
            let stats = try await outcomes(server)
            #expect(stats.byStatus == ["cut": 1, "200": 1])
            #expect(stats.total == other.totalTokens)
            #expect(stats.streams == 1)
        }
    }

    @Test func aTruncatedStreamStopsHalfwayWithoutDone() async throws {
        let plain = try await plainAnswer(prompt)
        try await withSimulator(SimulatorConfiguration(faultRate: 1, faults: [.truncate])) { server in
            let answer = try await streamChat(server, chatBody(prompt, includeUsage: true))
            #expect(answer.status == 200)
            #expect(!answer.endsWithDone)
            #expect(answer.bodyError != nil)
            // Half the tokens were sent (a client that reads late may lose some to the close).
            #expect(answer.contentPieces.count <= plain.completionTokens / 2)
            #expect(plain.content.hasPrefix(answer.contentPieces.joined()))
            #expect(answer.choices.allSatisfy { $0["finish_reason"] is NSNull })
            let stats = try await outcomes(server)
            #expect(stats.byStatus == ["truncate": 1] && stats.total == 0 && stats.streams == 1)
        }
    }

    @Test func aMalformedFaultSendsAnErrorEventMidStream() async throws {
        let plain = try await plainAnswer(prompt)
        try await withSimulator(SimulatorConfiguration(faultRate: 1, faults: [.malformed])) { server in
            let answer = try await streamChat(server, chatBody(prompt, includeUsage: true))
            #expect(answer.status == 200)
            #expect(answer.bodyError == nil)
            #expect(!answer.endsWithDone)
            #expect(answer.contentPieces.count == plain.completionTokens / 2)
            let error = try #require(answer.chunks.last?["error"] as? JSONObject)
            #expect(error["message"] as? String == "The server had an error while processing your request.")
            #expect(error["type"] as? String == "server_error")
            #expect(answer.assembled() == .failed("The server had an error while processing your request."))
            let stats = try await outcomes(server)
            #expect(stats.byStatus == ["stream-error": 1] && stats.total == 0)
        }
    }

    @Test func aRefusalStreamsRefusalDeltas() async throws {
        let plain = try await plainAnswer(prompt)
        try await withSimulator(SimulatorConfiguration(faultRate: 1, faults: [.refusal])) { server in
            let answer = try await streamChat(server, chatBody(prompt, includeUsage: true))
            let firstDelta = try #require(answer.choices.first?["delta"] as? JSONObject)
            #expect(firstDelta["content"] is NSNull && firstDelta["refusal"] as? String == "")
            #expect(answer.tokenTimes.count == 10, "one chunk per word of the refusal")
            guard case .complete(let chat) = answer.assembled() else {
                Issue.record("not whole")
                return
            }
            #expect(chat.refusal == "I'm sorry, but I can't help with that (simulated refusal).")
            #expect(chat.content == nil)
            #expect(chat.finishReason == "stop")
            #expect(chat.usage.total == plain.totalTokens)
            let stats = try await outcomes(server)
            #expect(stats.byStatus == ["200": 1] && stats.total == plain.totalTokens)
        }
    }

    @Test func aToolCallStreamsItsNameThenItsArgumentsInPieces() async throws {
        try await withSimulator(SimulatorConfiguration(faultRate: 1, faults: [.toolCalls])) { server in
            let answer = try await streamChat(server, chatBody(prompt))
            let firstDelta = try #require(answer.choices.first?["delta"] as? JSONObject)
            let call = try #require((firstDelta["tool_calls"] as? [JSONObject])?.first)
            #expect(call["index"] as? Int == 0 && call["id"] as? String == "call_sim0001")
            #expect((call["function"] as? JSONObject)?["name"] as? String == "lookup")
            #expect((call["function"] as? JSONObject)?["arguments"] as? String == "")
            #expect(answer.tokenTimes.count == 5, #"{" query ":" pacing "}"#)
            #expect(answer.choices.last?["finish_reason"] as? String == "tool_calls")
            guard case .complete(let chat) = answer.assembled() else {
                Issue.record("not whole")
                return
            }
            #expect(chat.content == nil)
            #expect(
                chat.toolCalls
                    == .array([
                        .object([
                            "id": .string("call_sim0001"), "type": .string("function"),
                            "function": .object([
                                "name": .string("lookup"), "arguments": .string(#"{"query":"pacing"}"#),
                            ]),
                        ])
                    ])
            )
            #expect(answer.endsWithDone)
        }
    }

    @Test func slowAndStallDelayTheFirstChunkAndTheMiddle() async throws {
        // The slow first chunk is bounded from the request's start, which a late reader cannot
        // break, so 150 ms do. (Longer delays here once coincided with failures of the pacing
        // tests running beside this one; a pause is a plain sleep, costing no CPU.)
        let delay = Duration.milliseconds(150)
        let slow = SimulatorConfiguration(faultRate: 1, faults: [.slow], slowDelay: delay)
        try await withSimulator(slow) { server in
            let answer = try await streamChat(server, chatBody(prompt))
            let first = try #require(answer.events.first)
            #expect(first.at - answer.started >= delay * 0.8)
            #expect(answer.endsWithDone)
            #expect(try await outcomes(server).byStatus == ["slow": 1])
        }
        // The stall is seen as a gap between two arrivals, which a reader starved of CPU when
        // the stall begins shortens by its own delay (it reads the chunks before the stall late,
        // bunched with those after): a stall of 2 s shows a gap of half of it to a reader up to
        // 1 s late.
        let stallDelay = Duration.seconds(2)
        let stall = SimulatorConfiguration(faultRate: 1, faults: [.stall], slowDelay: stallDelay)
        try await withSimulator(stall) { server in
            let answer = try await streamChat(server, chatBody(prompt))
            let times = answer.tokenTimes
            let gaps = zip(times.dropFirst(), times).map { $0 - $1 }
            // The pause falls between two tokens: mid-stream, not before the first. (Only "at
            // least one" such gap: a loaded CI machine adds slow gaps of its own, and stretched
            // a fresh server's first chunk past a fixed bound.)
            #expect(gaps.contains { $0 >= stallDelay / 2 }, "\(gaps)")
            // And whatever the reader's delays, the stream lasted the whole stall.
            #expect(try #require(times.last) - answer.started >= stallDelay)
            #expect(answer.endsWithDone)
            #expect(try await outcomes(server).byStatus == ["stall": 1])
        }
    }

    @Test func faultsBeforeTheStreamAnswerWithJSON() async throws {
        try await withSimulator(SimulatorConfiguration(faultRate: 1, faults: [.serverError])) { server in
            let answer = try await streamChat(server, chatBody(prompt))
            #expect(answer.status == 500)
            #expect(answer.contentType == "application/json")
            #expect(answer.raw.contains(#""type":"server_error""#))
            let stats = try await outcomes(server)
            #expect(stats.byStatus == ["500": 1] && stats.streams == 0)
        }
    }

    @Test func aFullQueueRefusesAStreamWith503() async throws {
        // The first stream would take 20 tokens of 500 ms (10 s), so that it surely still holds
        // the slot when the second request comes on a starved machine; it is cancelled once the
        // 503 is in, and the test ends.
        let configuration = SimulatorConfiguration(
            slots: SimulatorSlots(count: 1, tokenLatency: .milliseconds(500), maxQueue: 0)
        )
        try await withSimulator(configuration) { server in
            let (firstToken, signal) = AsyncStream.makeStream(of: Void.self)
            let running = Task {
                try await streamChat(server, chatBody(prompt, maxTokens: 20)) { signal.finish() }
            }
            for await _ in firstToken {}
            let refused = try await streamChat(server, chatBody("another", maxTokens: 20))
            #expect(refused.status == 503)
            // Refused while the first stream runs: it has no outcome yet.
            let during = try await outcomes(server)
            #expect(during.byStatus == ["503": 1] && during.streams == 1, "\(during)")
            running.cancel()
            let first = try await running.value
            #expect(!first.endsWithDone)
            // The server records the first stream's end when its next token finds the client gone.
            let closed = try await eventually(within: .seconds(30)) {
                try await outcomes(server).byStatus == ["client-closed": 1, "503": 1]
            }
            let after = try await outcomes(server)
            #expect(closed, "\(after)")
        }
    }

    @Test func aClientThatGoesAwayMidStreamGivesItsSlotBack() async throws {
        // Tokens of 400 ms: the stream (21 tokens) would run over 8 s, so that the server sees
        // the client go long before it could end, even on a starved machine; it sees it at its
        // next token, and the next stream is two tokens long, so the test takes about 2 s.
        let configuration = SimulatorConfiguration(
            slots: SimulatorSlots(count: 1, tokenLatency: .milliseconds(400))
        )
        try await withSimulator(configuration) { server in
            let (firstToken, signal) = AsyncStream.makeStream(of: Void.self)
            let reader = Task {
                try await streamChat(server, chatBody(prompt, maxTokens: 40)) { signal.finish() }
            }
            for await _ in firstToken {}
            reader.cancel()
            let gone = try await reader.value
            #expect(!gone.endsWithDone)
            // The next stream gets the slot once the server has seen the client go.
            let next = try await streamChat(server, chatBody("next", maxTokens: 2))
            #expect(next.endsWithDone)
            let stats = try await outcomes(server)
            #expect(stats.byStatus == ["client-closed": 1, "200": 1] && stats.streams == 2)
            // Only the whole stream's tokens count.
            #expect(stats.total == (try await plainAnswer("next", maxTokens: 2)).totalTokens)
        }
    }
}
