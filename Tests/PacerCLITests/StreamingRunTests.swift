import Foundation
import PacerCore
import PacerSimulator
import PacerTesting
import Testing

@testable import PacerCLI

/// `pacer chat --stream` end to end against the simulator streaming like llama.cpp's server
/// (issue 11): pings, CRLF, no usage, running streams cut when another request arrives, and
/// a fifth of requests failing (before the stream, cut off halfway, or an error event
/// mid-stream).
@Suite(.timeLimit(.minutes(2))) struct StreamingRunTests: ScratchFolder {
    let directory: URL

    init() throws { directory = try makeScratchFolder() }

    static let prompts = 60

    /// Runs `pacer chat` over the prompts; returns the output lines by id, the summary and the
    /// simulator's completion tokens.
    func run(
        _ name: String,
        configuration: SimulatorConfiguration,
        prompts: Int = Self.prompts,
        extra: [String]
    ) async throws -> (
        lines: [String: [String: Any]], summary: [String: Any], served: (prompt: Int, completion: Int),
        outcomes: [String: Int], status: Int32
    ) {
        let input = try write(
            "prompts.txt",
            (1...prompts).map { "streamed prompt \($0)" }.joined(separator: "\n") + "\n"
        )
        let output = path("\(name).jsonl")
        let summaryPath = path("\(name)-summary.json")
        let (status, stats) = try await withSimulator(configuration) { server in
            let status = await pacer(
                [
                    "chat", input, "-o", output, "-q", "--base-url", server.baseURL, "--concurrency", "8",
                    "--max-retries", "30", "--retry-budget", "off", "--backoff-base", "0.01", "--backoff-cap", "0.05",
                    "--summary-json", summaryPath,
                ] + extra
            )
            return (status, server.stats.snapshot())
        }
        var byID: [String: [String: Any]] = [:]
        for line in try lines(output) { byID[line["id"] as? String ?? ""] = line }
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: summaryPath)))
        return (
            byID, try #require(summary as? [String: Any]), (stats.tokens.prompt, stats.tokens.completion),
            stats.byStatus, status
        )
    }

    @Test func everyQuirkAndAFifthFailingStillDeliversEveryItemAsThePlainAnswer() async throws {
        let quirky = SimulatorConfiguration(
            faultRate: 0.2,
            faults: [.serverError, .drop, .truncate, .malformed],
            seed: 11,
            retryAfter: .milliseconds(20),
            streamTokenLatency: .milliseconds(1),
            llamaQuirks: true,
            cutRate: 0.3
        )
        let streamed = try await run("streamed", configuration: quirky, extra: ["--stream", "--idle-timeout", "5"])
        #expect(streamed.status == 0)
        #expect(streamed.lines.count == Self.prompts)
        // The same prompts without streaming, against a server without faults or quirks.
        let plain = try await run("plain", configuration: SimulatorConfiguration(), extra: [])
        for (id, line) in streamed.lines {
            #expect(line["success"] as? Bool == true, "\(line)")
            #expect(line["response"] as? String == plain.lines[id]?["response"] as? String, "\(id)")
            #expect((line["ttft_ms"] as? Int).map { $0 >= 0 } == true, "\(line)")
            let tokens = try #require(line["tokens"] as? [String: Any])
            // No usage in llama.cpp's streams: estimated, and marked so.
            #expect(tokens["estimated"] as? Bool == true)
            let plainTokens = try #require(plain.lines[id]?["tokens"] as? [String: Any])
            #expect(tokens["completion"] as? Int == plainTokens["completion"] as? Int, "a token a chunk: \(id)")
            #expect(tokens["prompt"] as? Int == plainTokens["prompt"] as? Int, "\(id)")
        }
        // Usage totals equal what the simulator delivered in whole streams (cut, truncated and
        // failed streams are neither counted by it nor by Pacer).
        let totals = try #require(streamed.summary["tokens"] as? [String: Any])
        #expect(totals["completion"] as? Int == streamed.served.completion)
        #expect(totals["prompt"] as? Int == streamed.served.prompt)
        #expect((streamed.summary["retries"] as? Int ?? 0) > 0, "the faults and cuts were retried")
        // Streams were cut by other requests' arrival, and cut off or failed mid-stream.
        #expect((streamed.outcomes["cut"] ?? 0) > 0, "\(streamed.outcomes)")
        #expect((streamed.outcomes["truncate"] ?? 0) + (streamed.outcomes["stream-error"] ?? 0) > 0)
        let streaming = try #require(streamed.summary["streaming"] as? [String: Any])
        #expect(streaming["items"] as? Int == Self.prompts)
        let ttft = try #require(streaming["timeToFirstToken"] as? [String: Any])
        let p50 = try #require(ttft["p50"] as? Double)
        let p99 = try #require(ttft["p99"] as? Double)
        #expect(p50 > 0 && p99 >= p50)
        #expect(plain.summary["streaming"] == nil, "no streaming figures for a plain run")
    }

    @Test func aStreamThatGoesSilentIsCutByTheIdleTimeoutNotByItsLength() async throws {
        // Every stream stalls halfway for 4 s; a 0.3 s idle timeout ends each attempt. (Until
        // one request succeeds, the first-request probe sends one at a time: few prompts.)
        let stalling = SimulatorConfiguration(
            faultRate: 1,
            faults: [.stall],
            slowDelay: .seconds(4),
            streamTokenLatency: .milliseconds(1)
        )
        let result = try await run(
            "stall",
            configuration: stalling,
            prompts: 4,
            extra: ["--stream", "--idle-timeout", "0.3", "--max-retries", "1"]
        )
        #expect(result.status == 1)
        for line in result.lines.values {
            let error = try #require(line["error"] as? [String: Any])
            #expect(error["kind"] as? String == "timeout")
            #expect((error["message"] as? String)?.contains("went silent for 0.3s") == true, "\(error)")
            #expect(line["attempts"] as? Int == 2)
        }
    }

    /// Issue 20: `--deadline` bounds a streamed item after its first token too. On 991d846 the
    /// deadline only bounded the wait for the first token, and a long stream ran past it.
    @Test func theItemDeadlineHoldsAfterTheFirstToken() async throws {
        // 40 tokens at 200 ms: 8 s a stream, whose first token comes at once.
        let slow = SimulatorConfiguration(streamTokenLatency: .milliseconds(200))
        let result = try await run(
            "deadline",
            configuration: slow,
            prompts: 2,
            extra: ["--stream", "--deadline", "1", "--max-tokens", "40", "--max-retries", "0"]
        )
        #expect(result.status == 1)
        #expect(result.lines.count == 2)
        for line in result.lines.values {
            let error = try #require(line["error"] as? [String: Any])
            #expect(error["kind"] as? String == "timeout", "\(error)")
            #expect((error["message"] as? String)?.contains("deadline") == true, "\(error)")
            // Cut at about 1 s, not after the whole stream's 8 s (room for a starved machine).
            #expect((line["latency_ms"] as? Int).map { $0 < 6_000 } == true, "\(line)")
        }
    }
}
