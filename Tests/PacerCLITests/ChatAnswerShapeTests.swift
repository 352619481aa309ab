import Foundation
import PacerSimulator
import PacerTesting
import Testing

@testable import PacerCLI

/// Issue 9, defect 4: a complete answer of an unexpected shape is an answer, not a reason to
/// pay for the prompt again. A refusal or tool calls (`content: null`) succeed at the first
/// attempt and are kept in the output line; complete JSON of the wrong shape fails at once.
/// (Against 777de37's client, with these simulator faults, every prompt was sent again until
/// its retries ran out.)
@Suite struct ChatAnswerShapeTests: ScratchFolder {
    let directory: URL

    init() throws { directory = try makeScratchFolder() }

    /// Runs two prompts against a simulator that answers every request with `fault`; returns
    /// pacer's exit status, the output lines and the requests the server received.
    func run(
        _ fault: Fault,
        format: String = "pacer"
    ) async throws -> (status: Int32, lines: [[String: Any]], requests: Int) {
        let input = try write("in.txt", "first prompt\nsecond prompt\n")
        let output = path("out.jsonl")
        let (status, requests) = try await withSimulator(SimulatorConfiguration(faultRate: 1, faults: [fault], seed: 1))
        { server in
            let status = await pacer([
                "chat", input, "--base-url", server.baseURL, "-o", output, "-q", "--output-format", format,
                "--max-retries", "3", "--backoff-base", "0.01", "--backoff-cap", "0.05",
            ])
            return (status, server.stats.snapshot().requests)
        }
        return (status, try lines(output), requests)
    }

    @Test func aRefusalIsASuccessSentOnceWithItsRefusalKept() async throws {
        let (status, lines, requests) = try await run(.refusal)
        #expect(status == 0)
        #expect(requests == 2)
        #expect(lines.count == 2)
        for line in lines {
            #expect(line["success"] as? Bool == true)
            #expect(line["attempts"] as? Int == 1)
            #expect(line["response"] is NSNull)
            #expect((line["refusal"] as? String)?.contains("simulated refusal") == true)
            #expect(line["tokens"] != nil)
        }
    }

    @Test func toolCallsAreASuccessSentOnceWithTheCallsKept() async throws {
        let (status, lines, requests) = try await run(.toolCalls)
        #expect(status == 0)
        #expect(requests == 2)
        for line in lines {
            #expect(line["attempts"] as? Int == 1)
            #expect(line["response"] is NSNull)
            let calls = try #require(line["tool_calls"] as? [[String: Any]])
            #expect((calls.first?["function"] as? [String: Any])?["name"] as? String == "lookup")
        }
    }

    @Test func inBatchFormatARefusalIsA200WithTheMessageAsSent() async throws {
        let (status, lines, _) = try await run(.refusal, format: "batch")
        #expect(status == 0)
        for line in lines {
            #expect(line["error"] is NSNull)
            let response = try #require(line["response"] as? [String: Any])
            #expect(response["status_code"] as? Int == 200)
            let choices = try #require((response["body"] as? [String: Any])?["choices"] as? [[String: Any]])
            let message = try #require(choices.first?["message"] as? [String: Any])
            #expect(message["content"] is NSNull)
            #expect(message["refusal"] is String)
        }
    }

    @Test func completeJSONOfTheWrongShapeFailsAtOnceAsInvalidResponse() async throws {
        let (status, lines, requests) = try await run(.wrongShape)
        #expect(status == 1)
        #expect(requests == 2)
        for line in lines {
            #expect(line["success"] as? Bool == false)
            #expect(line["attempts"] as? Int == 1)
            let error = try #require(line["error"] as? [String: Any])
            #expect(error["kind"] as? String == "invalid_response")
            #expect((error["message"] as? String)?.contains("choices[0].message is a string") == true, "\(error)")
        }
    }

    @Test func aBodyCutShortIsStillRetried() async throws {
        let (status, lines, requests) = try await run(.malformed)
        #expect(status == 1)
        #expect(requests == 8)
        #expect(lines.allSatisfy { $0["attempts"] as? Int == 4 })
    }
}
