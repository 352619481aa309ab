import Foundation
import PacerCore
import PacerHTTP
import PacerJSON
import PacerJobs
import PacerSimulator
import PacerTesting
import Testing

@testable import PacerCLI

/// Issue 9, defect 5: numbers in input lines and in fetched JSON keep their exact text, and a
/// number no exact conversion can use is bad input (exit 2, with the file and line), never a
/// crash. These tests use only what 777de37 had too; against it they fail (a SIGILL, false
/// duplicates, a rounded number).
@Suite struct NumbersTests: ScratchFolder {
    let directory: URL

    init() throws { directory = try makeScratchFolder() }

    /// Runs the built binary: on 777de37 these lines trapped, which would take the test runner
    /// down with them if run in process.
    func run(_ arguments: [String]) async throws -> (status: Int32, stderr: String) {
        try await PacerProcess(
            arguments,
            stderrFile: directory.appendingPathComponent("stderr-\(UUID().uuidString).txt")
        ).run()
    }

    @Test(arguments: [
        (#"{"id": 1e19, "prompt": "x"}"#, #""id" 1e19"#),
        (#"{"id": 1.5, "prompt": "x"}"#, #""id" 1.5"#),
        (#"{"prompt": "x", "max_tokens": 1e300}"#, #""max_tokens" must be a positive integer"#),
        (#"{"prompt": "x", "max_tokens": 9223372036854775808}"#, #""max_tokens" must be a positive integer"#),
        (#"{"prompt": "x", "temperature": 1e400}"#, #""temperature" must be a number"#),
    ])
    func aNumberNoExactConversionCanUseIsBadInputNamingTheLine(line: String, message: String) async throws {
        let input = try write("in.jsonl", #"{"id": "fine", "prompt": "y"}"# + "\n" + line + "\n")
        let (status, stderr) = try await run(["chat", input, "--base-url", "http://127.0.0.1:9/v1", "-q"])
        #expect(status == 2, "\(stderr)")
        #expect(stderr.contains("\(input):2: \(message)"), "\(stderr)")
    }

    @Test func theLargestMaxTokensIsSentAsItIs() async throws {
        // Int.max: valid, and more than the token estimate (prompt + max_tokens) can add up to.
        let input = try write("in.jsonl", #"{"prompt": "x", "max_tokens": 9223372036854775807}"# + "\n")
        let output = path("out.jsonl")
        try await withSimulator { server in
            let (status, stderr) = try await run(["chat", input, "--base-url", server.baseURL, "-o", output, "-q"])
            #expect(status == 0, "\(stderr)")
        }
        #expect(try lines(output).first?["success"] as? Bool == true)
    }

    @Test func withSkipInvalidSuchALineIsThatItemsInvalidInputFailure() async throws {
        let input = try write("in.jsonl", #"{"id": 1e19, "prompt": "x"}"# + "\n")
        let output = path("out.jsonl")
        let (status, stderr) = try await run([
            "chat", input, "--base-url", "http://127.0.0.1:9/v1", "-q", "--skip-invalid", "-o", output,
        ])
        #expect(status == 1, "\(stderr)")
        let written = try lines(output)
        let error = try #require(written.first?["error"] as? [String: Any])
        #expect(error["kind"] as? String == "invalid_input")
        #expect((error["message"] as? String)?.hasPrefix("\(input):1: \"id\" 1e19") == true)
    }

    @Test func integerIdsAboveTwoToThe53AreDistinctAndKeptExactly() async throws {
        let ids = ["9007199254740992", "9007199254740993", "1512345678901234567", "123456789012345678901234567890"]
        let input = try write(
            "in.jsonl",
            ids.map { #"{"id": \#($0), "prompt": "p\#($0)", "max_tokens": 5.0}"# }.joined(separator: "\n") + "\n"
        )
        let output = path("out.jsonl")
        try await withSimulator { server in
            let (status, stderr) = try await run(["chat", input, "--base-url", server.baseURL, "-o", output, "-q"])
            #expect(status == 0, "\(stderr)")
            #expect(server.stats.snapshot().requests == 4)
        }
        #expect(Set(try lines(output).compactMap { $0["id"] as? String }) == Set(ids))
    }

    @Test func aFetchedNumberIsWrittenWithItsExactText() throws {
        let body = #"{"id":1512345678901234567,"ratio":0.1000000000000000055511151231257827,"tiny":1E-7,"whole":2.0}"#
        let data = try JSONValue(parsing: body)
        let result = ItemResult(
            index: 0,
            id: "1",
            outcome: .success(FetchResult(url: "http://h/x", status: 200, data: data)),
            attempts: 1,
            attemptErrors: [],
            latency: .zero
        )
        var bytes: [UInt8] = []
        OutputLine.fetch(result, url: "http://h/x").appendJSON(to: &bytes, encoder: JSONEncoder())
        let line = String(decoding: bytes, as: UTF8.self)
        #expect(line.contains(#""data":\#(body)"#), "\(line)")
    }
}
