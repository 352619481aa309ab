import Foundation
import PacerSimulator
import PacerTesting
import Testing

@testable import PacerCLI

/// Anthropic's own API (issue 22): Message Batch files through `pacer batch`, and
/// `pacer chat --provider anthropic`, against the simulator's `/v1/messages`.
@Suite struct AnthropicBatchTests: ScratchFolder {
    let directory: URL

    init() throws { directory = try makeScratchFolder() }

    let key = "sk-ant-test-key-0123456789abcdef"

    /// `count` Message Batch lines; those in `refused` have an empty conversation, which the
    /// API refuses with a 400.
    func messageBatch(_ count: Int, refused: Set<Int> = []) -> String {
        (0..<count).map { index in
            let messages = refused.contains(index) ? "[]" : #"[{"role":"user","content":"question \#(index)"}]"#
            return
                #"{"custom_id":"q\#(index)","params":{"model":"claude-haiku-4-5","max_tokens":32,"system":"Be brief.","messages":\#(messages)}}"#
        }.joined(separator: "\n") + "\n"
    }

    @Test func aMessageBatchFileIsToldByItsFirstLineAndWritesAnthropicsResults() async throws {
        let input = try write("requests.jsonl", messageBatch(12, refused: [4]))
        let output = path("results.jsonl")
        try await withSimulator(SimulatorConfiguration(apiKey: key)) { server in
            // The root as Anthropic's SDKs take it, without /v1.
            let arguments = ["batch", input, "-o", output, "-q", "--base-url", server.rootURL]
            #expect(await pacer(arguments, environment: ["ANTHROPIC_API_KEY": key]) == 1)
            #expect(server.stats.snapshot().byStatus["200"] == 11)
            #expect(server.stats.snapshot().byStatus["400"] == 1)
            // One file for every result; no errors file beside it.
            #expect(!FileManager.default.fileExists(atPath: path("results.errors.jsonl")))
            let results = try lines(output)
            #expect(Set(results.compactMap { $0["custom_id"] as? String }) == Set((0..<12).map { "q\($0)" }))
            for line in results {
                let result = try #require(line["result"] as? [String: Any])
                if line["custom_id"] as? String == "q4" {
                    #expect(result["type"] as? String == "errored")
                    let error = try #require(result["error"] as? [String: Any])
                    #expect(error["type"] as? String == "error")
                    #expect((error["error"] as? [String: Any])?["type"] as? String == "invalid_request_error")
                } else {
                    #expect(result["type"] as? String == "succeeded")
                    let message = try #require(result["message"] as? [String: Any])
                    #expect(message["type"] as? String == "message")
                    #expect((message["usage"] as? [String: Any])?["output_tokens"] as? Int ?? 0 > 0)
                }
            }
            // The journal reads `result.type`: a rerun sends nothing, --retry-failed only the
            // errored request.
            #expect(await pacer(arguments, environment: ["ANTHROPIC_API_KEY": key]) == 0)
            #expect(server.stats.snapshot().requests == 12)
            #expect(await pacer(arguments + ["--retry-failed"], environment: ["ANTHROPIC_API_KEY": key]) == 1)
            #expect(server.stats.snapshot().requests == 13)
            #expect(try lines(output).count == 12)
        }
        #expect(!(try String(contentsOfFile: output, encoding: .utf8)).contains(key))
    }

    @Test func anOpenAILineInAMessageBatchFileIsBadInputOnItsLine() async throws {
        let openAILine =
            #"{"custom_id":"x","method":"POST","url":"/v1/chat/completions","body":{"model":"gpt-4o-mini","messages":[]}}"#
        let input = try write("mixed.jsonl", messageBatch(2) + openAILine + "\n")
        try await withSimulator { server in
            let run = try PacerProcess(
                ["batch", input, "-o", path("out.jsonl"), "--base-url", server.rootURL],
                environment: ["ANTHROPIC_API_KEY": key],
                stderrFile: directory.appendingPathComponent("stderr.txt")
            )
            let (status, stderr) = try await run.run()
            #expect(status == 2)
            #expect(stderr.contains("mixed.jsonl:3"), "\(stderr)")
            #expect(stderr.contains("OpenAI Batch API line"), "\(stderr)")
            #expect(server.stats.snapshot().requests == 0)
        }
    }

    @Test func aMessageBatchLineWithoutMaxTokensIsRefusedBeforeAnyRequest() async throws {
        let line =
            #"{"custom_id":"a","params":{"model":"claude-haiku-4-5","messages":[{"role":"user","content":"hi"}]}}"#
        let input = try write("no-max.jsonl", line + "\n")
        try await withSimulator { server in
            let arguments = ["batch", input, "-o", path("out.jsonl"), "-q", "--base-url", server.rootURL]
            #expect(await pacer(arguments, environment: ["ANTHROPIC_API_KEY": key]) == 2)
            #expect(server.stats.snapshot().requests == 0)
        }
    }

    @Test func chatWithProviderAnthropicSendsMessagesAndWritesChatLines() async throws {
        let input = try write("prompts.txt", "first\nsecond\nthird\n")
        let output = path("out.jsonl")
        try await withSimulator(SimulatorConfiguration(apiKey: key)) { server in
            let arguments = [
                "chat", input, "-o", output, "-q", "--provider", "anthropic", "--base-url", server.baseURL, "--system",
                "Answer in one word.",
            ]
            #expect(await pacer(arguments, environment: ["ANTHROPIC_API_KEY": key]) == 0)
            #expect(server.stats.snapshot().byItem["messages:first"] == 1)
            // Without the key, the command says which variable to set and sends nothing.
            #expect(await pacer(["chat", input, "-o", path("none.jsonl"), "-q", "--provider", "anthropic"]) == 2)
        }
        let written = try lines(output)
        #expect(written.count == 3)
        for line in written {
            #expect(line["success"] as? Bool == true)
            #expect((line["response"] as? String)?.isEmpty == false)
            #expect(line["model"] as? String == "claude-haiku-4-5")
            // Claude Haiku 4.5's list price is known.
            #expect(line["cost_usd"] as? Double ?? 0 > 0)
        }
    }
}
