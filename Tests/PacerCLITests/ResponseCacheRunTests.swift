import Foundation
import PacerPostgres
import PacerSimulator
import PacerTesting
import Testing

@testable import PacerCLI

/// `--cache DIR` on real runs against the simulator (issue 22): a rerun sends nothing and
/// writes the same answers; a half-new file sends only the new half; another command that
/// sends the same request gets the kept answer.
@Suite struct ResponseCacheRunTests: ScratchFolder {
    let directory: URL

    init() throws { directory = try makeScratchFolder() }

    func answers(_ file: String) throws -> [String: String] {
        Dictionary(
            uniqueKeysWithValues: try lines(file).map { ($0["id"] as? String ?? "", $0["response"] as? String ?? "") }
        )
    }

    @Test func aRerunSendsNothingAndAHalfNewFileOnlyTheNewHalf() async throws {
        let first = try write("first.txt", (0..<120).map { "prompt \($0)" }.joined(separator: "\n") + "\n")
        let half = try write("half.txt", (60..<180).map { "prompt \($0)" }.joined(separator: "\n") + "\n")
        let cache = path("cache")
        try await withSimulator { server in
            func chat(_ input: String, _ output: String, _ extra: [String] = []) async -> Int32 {
                await pacer(
                    [
                        "chat", input, "-o", path(output), "-q", "--base-url", server.baseURL, "--temperature", "0",
                        "--cache", cache,
                    ] + extra
                )
            }
            #expect(await chat(first, "a.jsonl") == 0)
            #expect(server.stats.snapshot().requests == 120)
            // Another output: nothing is skipped by the journal, everything comes from the cache.
            #expect(await chat(first, "b.jsonl", ["--summary-json", path("b.json")]) == 0)
            #expect(server.stats.snapshot().requests == 120)
            #expect(try answers(path("a.jsonl")) == answers(path("b.jsonl")))
            #expect(
                try lines(path("b.jsonl")).allSatisfy { $0["cached"] as? Bool == true && $0["attempts"] as? Int == 0 }
            )
            let summary = try #require(
                try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path("b.json"))))
                    as? [String: Any]
            )
            #expect(summary["cached"] as? Int == 120)
            #expect(summary["requests"] as? Int == 0)
            #expect(summary["cacheSavedUSD"] as? Double ?? 0 > 0)
            // Batch API lines say so too.
            #expect(await chat(first, "e.jsonl", ["--output-format", "batch"]) == 0)
            #expect(try lines(path("e.jsonl")).allSatisfy { $0["cached"] as? Bool == true })
            #expect(server.stats.snapshot().requests == 120)
            // Prompts 60..<120 are kept; 120..<180 are new.
            #expect(await chat(half, "c.jsonl") == 0)
            #expect(server.stats.snapshot().requests == 180)
            #expect(try lines(path("c.jsonl")).count(where: { $0["cached"] as? Bool == true }) == 60)
            // Without --temperature the answers are drawn at random: not looked up.
            #expect(
                await pacer([
                    "chat", first, "-o", path("d.jsonl"), "-q", "--base-url", server.baseURL, "--cache", cache,
                ]) == 0
            )
            #expect(server.stats.snapshot().requests == 300)
        }
    }

    @Test func anotherCommandSendingTheSameRequestGetsTheKeptAnswer() async throws {
        let prompts = try write("prompts.txt", "hello\n")
        let line =
            #"{"custom_id":"r1","method":"POST","url":"/v1/chat/completions","body":{"temperature":0,"messages":[{"content":"hello","role":"user"}],"model":"gpt-4o-mini"}}"#
        let requests = try write("requests.jsonl", line + "\n")
        let cache = path("cache")
        try await withSimulator { server in
            #expect(
                await pacer(
                    [
                        "chat", prompts, "-o", path("chat.jsonl"), "-q", "--base-url", server.baseURL, "--temperature",
                        "0",
                        "--cache", cache,
                    ]
                ) == 0
            )
            #expect(
                await pacer([
                    "batch", requests, "-o", path("batch.jsonl"), "-q", "--base-url", server.baseURL, "--cache", cache,
                ])
                    == 0
            )
            #expect(server.stats.snapshot().requests == 1)
        }
        let written = try #require(try lines(path("batch.jsonl")).first)
        #expect(written["cached"] as? Bool == true)
        let body = try #require((written["response"] as? [String: Any])?["body"] as? [String: Any])
        let choice = try #require((body["choices"] as? [[String: Any]])?.first)
        let answer = try #require(try lines(path("chat.jsonl")).first?["response"] as? String)
        #expect((choice["message"] as? [String: Any])?["content"] as? String == answer)
    }

    /// `--cache postgres://…`: what one machine paid for, every machine of the fleet gets. A
    /// `pacer batch` run keeps its answers in the database; a worker draining the same requests
    /// from the queue sends none of them.
    @Test func aFleetSharesItsCacheThroughPostgreSQL() async throws {
        let requests = try write(
            "requests.jsonl",
            (0..<40).map {
                #"{"custom_id":"r\#($0)","method":"POST","url":"/v1/chat/completions","body":{"model":"gpt-4o-mini","temperature":0,"messages":[{"role":"user","content":"question \#($0)"}]}}"#
            }.joined(separator: "\n") + "\n"
        )
        try await withPostgres { database in
            try await withSimulator { server in
                let batch = [
                    "batch", requests, "-o", path("batch.jsonl"), "-q", "--base-url", server.baseURL, "--cache",
                    database.url,
                ]
                #expect(await pacer(batch) == 0)
                #expect(server.stats.snapshot().requests == 40)
                #expect(
                    await pacer(["queue", "push", requests, "--db", database.url, "--batch", "b", "-q"]) == 0
                )
                let worker = [
                    "worker", "--db", database.url, "--batch", "b", "-q", "--base-url", server.baseURL, "--cache",
                    database.url, "--summary-json", path("worker.json"),
                ]
                #expect(await pacer(worker) == 0)
                #expect(server.stats.snapshot().requests == 40, "the worker sent nothing")
                let summary = try #require(
                    try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path("worker.json"))))
                        as? [String: Any]
                )
                let counts = summary["batch"] as? [String: Any] ?? summary
                #expect(counts["cached"] as? Int == 40, "\(summary)")
            }
        }
    }

    @Test(arguments: [
        ["--cache-max-bytes", "12X"], ["--cache-max-bytes", "10"], ["--cache-nondeterministic"],
        ["--cache", "https://cache.example/answers"], ["--cache", "postgres://localhost:notaport/db"],
    ])
    func badCacheOptionsExitTwoNamingTheFlag(_ flags: [String]) async throws {
        let input = try write("in.txt", "one\n")
        let extra = flags.first == "--cache" ? flags : ["--cache", path("c")] + flags
        let arguments = flags == ["--cache-nondeterministic"] ? flags : extra
        let run = try PacerProcess(
            ["chat", input, "-o", path("out.jsonl"), "--base-url", "http://127.0.0.1:9/v1"] + arguments,
            stderrFile: directory.appendingPathComponent("stderr.txt")
        )
        let (status, stderr) = try await run.run()
        #expect(status == 2)
        #expect(stderr.contains("--cache"), "\(stderr)")
    }
}
