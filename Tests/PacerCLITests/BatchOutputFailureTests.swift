import Foundation
import PacerSimulator
import PacerTesting
import Testing

@testable import PacerCLI

/// Issue 9, defect 3: in `--output-format batch`, a failure is written with a non-null
/// `error`, so that no Batch API reader takes it for a success, and a rerun with
/// `--retry-failed` does it again. (Both fail against 777de37: a 200 whose body did not decode
/// was written as `status_code: 200, error: null` and counted as done.)
@Suite struct BatchOutputFailureTests: ScratchFolder {
    let directory: URL

    init() throws { directory = try makeScratchFolder() }

    @Test func a200ThatDidNotDecodeIsAFailureAndRetryFailedRedoesIt() async throws {
        let input = try write("in.txt", "only prompt\n")
        let output = path("out.jsonl")
        let arguments = ["chat", input, "-o", output, "-q", "--output-format", "batch", "--max-retries", "0"]
        try await withSimulator(SimulatorConfiguration(faultRate: 1, faults: [.malformed], seed: 1)) { server in
            #expect(await pacer(arguments + ["--base-url", server.baseURL]) == 1)
        }
        let failed = try #require(try lines(output).first)
        let error = try #require(failed["error"] as? [String: Any], "\(failed)")
        #expect(error["code"] as? String == "invalid_response")
        #expect(error["message"] is String)
        // Whatever `response` says, it is not a 2xx: that answer was not a result.
        let status = (failed["response"] as? [String: Any])?["status_code"] as? Int
        #expect(status.map { !(200...299).contains($0) } ?? true, "\(failed)")

        try await withSimulator { server in
            // Without --retry-failed a failure counts as done; with it, it is sent again.
            #expect(await pacer(arguments + ["--base-url", server.baseURL]) == 0)
            #expect(server.stats.snapshot().requests == 0)
            #expect(await pacer(arguments + ["--base-url", server.baseURL, "--retry-failed"]) == 0)
            #expect(server.stats.snapshot().requests == 1)
        }
        let newest = try #require(try lines(output).last)
        #expect(newest["error"] is NSNull)
        #expect((newest["response"] as? [String: Any])?["status_code"] as? Int == 200)
    }

    @Test func aFalseSuccessWrittenByAnEarlierPacerIsReadAsTheFailureItWas() async throws {
        // 777de37's line for a 200 whose body did not decode.
        let legacy =
            #"{"custom_id":"1","error":null,"id":"batch_req_1","response":{"body":{"error":{"code":null,"message":"not a complete chat completion (40 bytes)","param":null,"type":"invalid_response"}},"request_id":null,"status_code":200}}"#
        let output = try write("out.jsonl", legacy + "\n")
        let input = try write("in.txt", "only prompt\n")
        try await withSimulator { server in
            #expect(
                await pacer([
                    "chat", input, "--base-url", server.baseURL, "-o", output, "-q", "--output-format", "batch",
                    "--retry-failed",
                ]) == 0
            )
            #expect(server.stats.snapshot().requests == 1)
        }
    }
}
