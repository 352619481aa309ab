import Foundation
import PacerCore
import PacerJobs
import PacerSimulator
import PacerTesting
import Testing

@testable import PacerCLI

/// `--max-cost` and `--dry-run` (issue 10).
@Suite struct CostOptionsTests: ScratchFolder {
    let directory: URL

    init() throws { directory = try makeScratchFolder() }

    func prompts(_ count: Int) throws -> String {
        try write(
            "prompts.txt",
            (1...count).map { "prompt number \($0) for the cost guard" }.joined(separator: "\n") + "\n"
        )
    }

    @Test func maxCostStopsUnderTheCapAndARerunWithAHigherCapFinishesWithoutRedoing() async throws {
        let input = try prompts(100)
        let output = path("out.jsonl")
        let summaryPath = path("summary.json")
        // gpt-4o-mini, 50 tokens at most an answer: at most about $0.000032 a request, so a cap
        // of $0.001 admits a few dozen of the 100.
        let arguments = ["chat", input, "-o", output, "-q", "--max-tokens", "50", "--summary-json", summaryPath]
        try await withSimulator { server in
            #expect(await pacer(arguments + ["--base-url", server.baseURL, "--max-cost", "0.001"]) == 1)
            let sent = server.stats.snapshot().requests
            let written = try lines(output)
            #expect(sent > 10 && sent < 100 && written.count == sent, "nothing unsent is written")
            let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: summaryPath)))
            let spent = try #require((summary as? [String: Any])?["costUSD"] as? Double)
            #expect(spent <= 0.001)

            #expect(await pacer(arguments + ["--base-url", server.baseURL, "--max-cost", "1"]) == 0)
            #expect(server.stats.snapshot().requests == 100, "the rerun sent only what the first did not")
        }
        #expect(try lines(output).count == 100)
    }

    /// Issue 20: `--max-cost` with a model the price table does not know says so (once)
    /// instead of counting its requests as free without a word.
    @Test func maxCostWarnsOnceForAModelWithoutAPrice() async throws {
        let input = try prompts(5)
        try await withSimulator { server in
            let (status, stderr) = try await PacerProcess(
                [
                    "chat", input, "-o", path("out.jsonl"), "--max-cost", "1", "--model", "my-own-model",
                    "--base-url", server.baseURL,
                ],
                stderrFile: directory.appendingPathComponent("stderr.txt")
            ).run()
            #expect(status == 0, "\(stderr)")
            let warnings = stderr.components(separatedBy: "no price for model 'my-own-model'").count - 1
            #expect(warnings == 1, "\(stderr)")
            #expect(stderr.contains("--price-in"), "\(stderr)")
        }
    }

    /// Issue 20: a failed attempt the server may have billed (an answer that could not be
    /// used, a timeout) counts against the cap at its most; a refusal does not.
    @Test func billedFailedAttemptsCountAgainstTheCap() {
        let guardian = CostGuard(cap: 1)
        #expect(guardian.admit(0.1))
        guardian.settle(reserved: 0.1, cost: 0.05, billedFailures: 2)
        #expect(abs(guardian.spent - 0.25) < 1e-9)
        let cut = ItemError(kind: .invalidResponse, status: 200, message: "cut", isRetryable: true)
        let refused = ItemError(kind: .httpStatus, status: 503, message: "busy", isRetryable: true)
        let late = ItemError(kind: .timeout, message: "late", isRetryable: true)
        #expect(cut.mayHaveBeenBilled && late.mayHaveBeenBilled && !refused.mayHaveBeenBilled)
    }

    @Test func dryRunNeedsNoKeySendsNothingAndEstimatesTheTokensTheServerCounts() async throws {
        let input = try prompts(500)
        let stdout = directory.appendingPathComponent("stdout.txt")
        // The real API's root and no key: a dry run must neither need one nor call it.
        let dryRun = try PacerProcess(
            ["chat", input, "--dry-run", "--max-tokens", "30", "--base-url", "https://api.openai.com/v1"],
            environment: ["OPENAI_API_KEY": ""],
            stderrFile: directory.appendingPathComponent("stderr.txt"),
            stdoutFile: stdout
        )
        let (status, stderr) = try await dryRun.run()
        #expect(status == 0, "\(stderr)")
        let printed = try String(contentsOf: stdout, encoding: .utf8)
        let row = try #require(printed.split(separator: "\n").first { $0.hasPrefix("gpt-4o-mini") }, "\(printed)")
        let columns = row.split(separator: " ").filter { !$0.isEmpty }
        #expect(columns[1] == "500" && columns[3] == "15000", "\(row)")
        let estimated = try #require(Int(columns[2]))
        try await withSimulator { server in
            #expect(await pacer(["chat", input, "-o", path("out.jsonl"), "-q", "--base-url", server.baseURL]) == 0)
            let counted = server.stats.snapshot().tokens.prompt
            #expect(
                abs(Double(estimated - counted)) <= 0.1 * Double(counted),
                "estimated \(estimated), counted \(counted)"
            )
        }
    }
}
