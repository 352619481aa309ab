import Foundation
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
        #expect(errors.compactMap { $0["custom_id"] as? String }.sorted() == ["get", "odd"])
        for line in errors {
            let error = try #require(line["error"] as? [String: Any])
            #expect(line["response"] is NSNull && error["code"] as? String == "invalid_input")
            #expect((error["message"] as? String)?.contains("in.jsonl:") == true)
        }
    }

    @Test func theErrorsFileSitsBesideTheOutput() {
        #expect(BatchAPICommand.errorsPath(flag: nil, output: "/data/run.jsonl") == "/data/run.errors.jsonl")
        #expect(BatchAPICommand.errorsPath(flag: nil, output: "out") == "out.errors.jsonl")
        #expect(BatchAPICommand.errorsPath(flag: "e.jsonl", output: "out.jsonl") == "e.jsonl")
        #expect(BatchAPICommand.errorsPath(flag: nil, output: nil) == nil)
    }
}
