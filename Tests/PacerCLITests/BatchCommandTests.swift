import Foundation
import PacerCore
import PacerSimulator
import PacerTesting
import Testing

@testable import PacerCLI

/// `pacer batch`: an OpenAI Batch API file run live, written as the Batch API writes its
/// output and error files (issue 10).
@Suite struct BatchCommandTests: ScratchFolder {
    let directory: URL

    init() throws { directory = try makeScratchFolder() }

    /// `count` chat lines; the ones in `bad` ask for a temperature the server refuses (400).
    func chatLines(_ count: Int, bad: Set<Int> = []) -> String {
        (0..<count).map { index in
            let temperature = bad.contains(index) ? #","temperature":5"# : ""
            return
                #"{"custom_id":"req-\#(index)","method":"POST","url":"/v1/chat/completions","body":{"model":"gpt-4o-mini","messages":[{"role":"user","content":"prompt \#(index)"}]\#(temperature)}}"#
        }.joined(separator: "\n") + "\n"
    }

    @Test func answersGoToTheOutputAndRefusalsToTheErrorsFileWithTheServersBody() async throws {
        let input = try write("in.jsonl", chatLines(10, bad: [3, 7]))
        let output = path("results.jsonl")
        try await withSimulator { server in
            #expect(await pacer(["batch", input, "-o", output, "-q", "--base-url", server.baseURL]) == 1)
        }
        let answers = try lines(output)
        let errors = try lines(path("results.errors.jsonl"))
        #expect(answers.count == 8 && errors.count == 2)
        let ids = (answers + errors).compactMap { $0["custom_id"] as? String }
        #expect(Set(ids) == Set((0..<10).map { "req-\($0)" }) && ids.count == 10)
        for line in answers {
            let response = try #require(line["response"] as? [String: Any])
            #expect(line["error"] is NSNull && response["status_code"] as? Int == 200)
            #expect(line["id"] as? String == "batch_req_" + (line["custom_id"] as? String ?? ""))
            let body = try #require(response["body"] as? [String: Any])
            #expect(body["object"] as? String == "chat.completion" && body["choices"] is [Any])
        }
        for line in errors {
            // As OpenAI's error files: the answer's status and body, and `error: null`.
            let response = try #require(line["response"] as? [String: Any])
            #expect(line["error"] is NSNull && response["status_code"] as? Int == 400)
            let body = try #require(response["body"] as? [String: Any])
            let error = try #require(body["error"] as? [String: Any])
            #expect(error["param"] as? String == "temperature" && error["type"] as? String == "invalid_request_error")
        }
    }

    @Test func aRerunSkipsBothFilesAndRetryFailedMovesRecoveredItemsToTheOutput() async throws {
        let input = try write("in.jsonl", chatLines(6))
        let output = path("out.jsonl")
        let arguments = ["batch", input, "-o", output, "-q", "--max-retries", "0"]
        // Every answer a 500: every item fails, without an answer body to keep but the error's.
        try await withSimulator(SimulatorConfiguration(faultRate: 1, faults: [.serverError], seed: 3)) { server in
            #expect(await pacer(arguments + ["--base-url", server.baseURL]) == 1)
        }
        let written = FileManager.default.fileExists(atPath: output) ? try lines(output) : []
        #expect(written.isEmpty)
        #expect(try lines(path("out.errors.jsonl")).count == 6)
        try await withSimulator { server in
            #expect(await pacer(arguments + ["--base-url", server.baseURL]) == 0)
            #expect(
                server.stats.snapshot().requests == 0,
                "a failure in the errors file is done without --retry-failed"
            )
            #expect(await pacer(arguments + ["--base-url", server.baseURL, "--retry-failed"]) == 0)
            #expect(server.stats.snapshot().requests == 6)
        }
        // Each id in exactly one of the two files.
        #expect(try lines(output).count == 6)
        #expect(try lines(path("out.errors.jsonl")).isEmpty)
    }

    @Test func anUnsupportedURLOrMethodIsBadInputBeforeAnyRequest() async throws {
        let good = chatLines(2)
        let input = try write(
            "in.jsonl",
            good + #"{"custom_id":"odd","method":"POST","url":"/v1/files","body":{}}"# + "\n"
                + #"{"custom_id":"get","method":"GET","url":"/v1/embeddings","body":{}}"# + "\n"
                + #"{"custom_id":"sse","method":"POST","url":"/v1/chat/completions","body":{"stream":true}}"# + "\n"
        )
        let output = path("out.jsonl")
        try await withSimulator { server in
            #expect(await pacer(["batch", input, "-o", output, "-q", "--base-url", server.baseURL]) == 2)
            #expect(server.stats.snapshot().requests == 0)
            // With --skip-invalid, each bad line is its item's failure, under its own custom_id.
            #expect(
                await pacer(["batch", input, "-o", output, "-q", "--base-url", server.baseURL, "--skip-invalid"]) == 1
            )
            #expect(server.stats.snapshot().requests == 2)
        }
        let errors = try lines(path("out.errors.jsonl"))
        #expect(errors.compactMap { $0["custom_id"] as? String }.sorted() == ["get", "odd", "sse"])
        for line in errors {
            let error = try #require(line["error"] as? [String: Any])
            #expect(line["response"] is NSNull && error["code"] as? String == "invalid_input")
            #expect((error["message"] as? String)?.contains("in.jsonl:") == true)
        }
    }

    /// One line of a mixed file: `index` of `endpoint`, with a body the simulator refuses (400)
    /// when `bad`.
    func mixedLine(_ endpoint: String, _ index: Int, bad: Bool) -> String {
        let text = "item \(index) of \(endpoint): " + String(repeating: "pace ", count: index % 13)
        let body: String
        switch endpoint {
        case "chat/completions":
            body =
                #"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"\#(text)"}],"max_tokens":30\#(bad ? #","temperature":5"# : "")}"#
        case "embeddings":
            body = #"{"model":"text-embedding-3-small","input":"\#(bad ? "" : text)","dimensions":8}"#
        case "responses":
            body = #"{"model":"gpt-4o-mini","input":"\#(text)","max_output_tokens":\#(bad ? 1 : 30)}"#
        default:
            body =
                bad
                ? #"{"prompt":"\#(text)"}"# : #"{"model":"gpt-3.5-turbo-instruct","prompt":"\#(text)","max_tokens":20}"#
        }
        let name = endpoint.split(separator: "/")[0]
        return #"{"custom_id":"\#(name)-\#(index)","method":"POST","url":"/v1/\#(endpoint)","body":\#(body)}"#
    }

    /// Issue 10's mixed file, smaller: four endpoints in one file, a fifth of the answers
    /// faults, a few bodies the server refuses. Every answer is in the output once, every
    /// refusal in the errors file with the server's 400, and the tokens counted per endpoint
    /// are the simulator's own count of the usage it sent.
    @Test func aMixedFileGoesEachLineToItsEndpointAndCountsTokensPerEndpoint() async throws {
        let endpoints = ["chat/completions", "embeddings", "responses", "completions"]
        var text = ""
        for index in 0..<30 {
            for endpoint in endpoints { text += mixedLine(endpoint, index, bad: index % 15 == 7) + "\n" }
        }
        let input = try write("mixed.jsonl", text)
        let output = path("out.jsonl")
        let summaryPath = path("summary.json")
        let configuration = SimulatorConfiguration(faultRate: 0.2, seed: 10, retryAfter: .milliseconds(20))
        let stats = try await withSimulator(configuration) { server in
            let arguments = [
                "batch", input, "-o", output, "-q", "--base-url", server.baseURL, "--max-retries", "20",
                "--backoff-base", "0.01", "--backoff-cap", "0.05", "--retry-budget", "off", "--concurrency", "16",
                "--summary-json", summaryPath,
            ]
            #expect(await pacer(arguments) == 1)
            return server.stats.snapshot()
        }
        let answers = try lines(output)
        let errors = try lines(path("out.errors.jsonl"))
        #expect(answers.count == 112 && errors.count == 8)
        let ids = (answers + errors).compactMap { $0["custom_id"] as? String }
        #expect(ids.count == 120 && Set(ids).count == 120)
        for line in answers + errors {
            let response = try #require(line["response"] as? [String: Any], "\(line)")
            #expect(response["request_id"] is String, "every answer names the server's x-request-id")
        }
        for line in errors {
            #expect((line["response"] as? [String: Any])?["status_code"] as? Int == 400)
        }
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: summaryPath)))
        let breakdown = try #require((summary as? [String: Any])?["breakdown"] as? [[String: Any]])
        #expect(breakdown.count == 4)
        for part in breakdown {
            let endpoint = try #require((part["key"] as? [String: Any])?["endpoint"] as? String)
            let tokens = try #require(part["tokens"] as? [String: Any])
            let served = try #require(stats.byEndpoint[endpoint], "\(endpoint)")
            #expect(part["items"] as? Int == 28, "\(endpoint)")
            #expect(tokens["total"] as? Int == served.tokens.total && tokens["prompt"] as? Int == served.tokens.prompt)
            #expect(tokens["completion"] as? Int == served.tokens.completion, "\(endpoint)")
        }
    }

    /// The example files of `vllm run-batch` (its chat and embeddings examples, spacing kept)
    /// run unchanged.
    @Test func vllmRunBatchExampleFilesRunUnchanged() async throws {
        let lines = [
            #"{"custom_id": "request-1", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "meta-llama/Meta-Llama-3-8B-Instruct", "messages": [{"role": "system", "content": "You are a helpful assistant."},{"role": "user", "content": "Hello world!"}],"max_completion_tokens": 1000}}"#,
            #"{"custom_id": "request-2", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "meta-llama/Meta-Llama-3-8B-Instruct", "messages": [{"role": "system", "content": "You are an unhelpful assistant."},{"role": "user", "content": "Hello world!"}],"max_completion_tokens": 1000}}"#,
            #"{"custom_id": "request-3", "method": "POST", "url": "/v1/embeddings", "body": {"model": "intfloat/e5-mistral-7b-instruct", "input": "You are a helpful assistant."}}"#,
        ]
        let input = try write("vllm.jsonl", lines.joined(separator: "\n") + "\n")
        let output = path("out.jsonl")
        try await withSimulator { server in
            #expect(await pacer(["batch", input, "-o", output, "-q", "--base-url", server.baseURL]) == 0)
        }
        #expect(
            try self.lines(output).compactMap { $0["custom_id"] as? String }.sorted() == [
                "request-1", "request-2", "request-3",
            ]
        )
    }

    @Test func theErrorsFileSitsBesideTheOutput() {
        #expect(BatchAPICommand.errorsPath(flag: nil, output: "/data/run.jsonl") == "/data/run.errors.jsonl")
        #expect(BatchAPICommand.errorsPath(flag: nil, output: "out") == "out.errors.jsonl")
        #expect(BatchAPICommand.errorsPath(flag: "e.jsonl", output: "out.jsonl") == "e.jsonl")
        #expect(BatchAPICommand.errorsPath(flag: nil, output: nil) == nil)
    }
}
