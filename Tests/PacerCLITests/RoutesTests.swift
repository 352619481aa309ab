import Foundation
import PacerSimulator
import PacerTesting
import Testing

@testable import PacerCLI

/// `pacer batch --routes FILE` against real simulators (issue 22): requests spread over
/// deployments, renamed models, a deployment whose key is refused left out, and routes
/// files that name the line of their problem.
@Suite struct RoutesTests: ScratchFolder {
    let directory: URL

    init() throws { directory = try makeScratchFolder() }

    func requests(_ count: Int, model: String = "gpt-4o-mini") -> String {
        (0..<count).map {
            #"{"custom_id":"r\#($0)","method":"POST","url":"/v1/chat/completions","body":{"model":"\#(model)","max_tokens":8,"messages":[{"role":"user","content":"question \#($0)"}]}}"#
        }.joined(separator: "\n") + "\n"
    }

    func deployment(
        _ name: String,
        _ server: Simulator.Running,
        key: String = "KEY_A",
        models: String = #"["gpt-4o-mini"]"#
    )
        -> String
    {
        #"{"name": "\#(name)", "base_url": "\#(server.baseURL)", "api_key_env": "\#(key)", "concurrency": 4, "models": \#(models)}"#
    }

    @Test func requestsSpreadOverTheDeploymentsAndARenamedModelIsSentByItsName() async throws {
        let input = try write("in.jsonl", requests(40))
        try await withSimulator { first in
            try await withSimulator { second in
                let routes = try write(
                    "routes.json",
                    """
                    {"deployments": [
                      \(deployment("one", first)),
                      \(deployment("two", second, models: #"[{"name": "gpt-4o-mini", "as": "my-mini"}]"#))
                    ]}
                    """
                )
                let arguments = [
                    "batch", input, "-o", path("out.jsonl"), "-q", "--routes", routes, "--summary-json",
                    path("summary.json"),
                ]
                #expect(await pacer(arguments, environment: ["KEY_A": "sk-a"]) == 0)
                let (one, two) = (first.stats.snapshot().requests, second.stats.snapshot().requests)
                #expect(one + two == 40)
                #expect(one >= 10 && two >= 10, "\(one) and \(two)")
                let summary = try #require(
                    try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path("summary.json"))))
                        as? [String: Any]
                )
                let deployments = try #require(summary["deployments"] as? [[String: Any]])
                #expect(deployments.map { $0["name"] as? String } == ["one", "two"])
                #expect(deployments.map { $0["requests"] as? Int } == [one, two])
            }
        }
        // The second deployment was asked for its own name of the model.
        let models = Set(
            try lines(path("out.jsonl")).compactMap {
                (($0["response"] as? [String: Any])?["body"] as? [String: Any])?["model"] as? String
            }
        )
        #expect(models == ["gpt-4o-mini", "my-mini"])
    }

    @Test func aDeploymentWhoseKeyIsRefusedIsLeftOutAndItsItemsGoToTheOther() async throws {
        let input = try write("in.jsonl", requests(30))
        try await withSimulator(SimulatorConfiguration(apiKey: "sk-right")) { strict in
            try await withSimulator { open in
                let routes = try write(
                    "routes.json",
                    """
                    {"deployments": [
                      \(deployment("strict", strict, key: "WRONG_KEY")),
                      \(deployment("open", open))
                    ], "cooldown_seconds": 600}
                    """
                )
                let arguments = [
                    "batch", input, "-o", path("out.jsonl"), "-q", "--routes", routes, "--backoff-base", "0.01",
                    "--summary-json", path("summary.json"),
                ]
                #expect(
                    await pacer(arguments, environment: ["KEY_A": "sk-a", "WRONG_KEY": "sk-wrong-0123456789"]) == 0
                )
                // Each request it refused cooled it down; it is not asked again for the cooldown.
                #expect(strict.stats.snapshot().byStatus["401"] ?? 0 >= 1)
                #expect(strict.stats.snapshot().requests <= 4, "at most one per slot before it was left out")
                #expect(open.stats.snapshot().byStatus["200"] == 30)
            }
        }
        #expect(try lines(path("out.jsonl")).count == 30)
        #expect(!(try String(contentsOfFile: path("out.jsonl"), encoding: .utf8)).contains("sk-wrong"))
    }

    @Test(arguments: [
        (
            #"{"deployments": [{"name": "a", "base_url": "http://127.0.0.1:9/v1",\n "colour": "red", "models": ["m"]}]}"#,
            ":2:", "unknown key \"colour\""
        ),
        (
            #"{"deployments": [\n{"name": "a", "base_url": "http://127.0.0.1:9/v1",\n"api_key_env": "NOT_SET_ANYWHERE", "models": ["m"]}]}"#,
            ":3:", "NOT_SET_ANYWHERE"
        ),
        (
            #"{"deployments": [{"name": "a", "base_url": "http://127.0.0.1:9/v1",\n"concurrency": 0, "models": ["m"]}]}"#,
            ":2:", "concurrency"
        ),
        (#"{"deployments": [],\n"speed": 1}"#, ":2:", "unknown key \"speed\""),
        (
            #"{"deployments": [{"name": "a", "base_url": "http://127.0.0.1:9/v1", "models": ["m"]},\n {"name": "a", "base_url": "http://127.0.0.1:9/v1", "models": ["m"]}]}"#,
            ":2:", "named 'a'"
        ),
        (
            #"{"deployments": [{"name": "a",\n"base_url": "http://127.0.0.1:9/v1", "models": ["other-model"]}]}"#,
            "in.jsonl:1:", "serves the model 'gpt-4o-mini'"
        ),
    ])
    func aRoutesFileProblemStopsTheRunBeforeAnyRequestNamingTheLine(
        _ text: String,
        _ place: String,
        _ message: String
    )
        async throws
    {
        let input = try write("in.jsonl", requests(2))
        let routes = try write("routes.json", text.replacingOccurrences(of: "\\n", with: "\n"))
        let run = try PacerProcess(
            ["batch", input, "-o", path("out.jsonl"), "--routes", routes],
            stderrFile: directory.appendingPathComponent("stderr.txt")
        )
        let (status, stderr) = try await run.run()
        #expect(status == 2)
        #expect(stderr.contains(place) && stderr.contains(message), "\(stderr)")
        #expect(!FileManager.default.fileExists(atPath: path("out.jsonl")))
    }

    @Test func chatPromptsGoOverTheDeploymentsAndAModelNoneServesIsRefusedOnItsLine() async throws {
        let prompts = try write("prompts.txt", (0..<20).map { "prompt \($0)" }.joined(separator: "\n") + "\n")
        try await withSimulator { first in
            try await withSimulator { second in
                let routes = try write(
                    "routes.json",
                    "{\"deployments\": [\(deployment("one", first)), \(deployment("two", second))]}"
                )
                let arguments = ["chat", prompts, "-q", "--routes", routes, "--temperature", "0"]
                #expect(await pacer(arguments + ["-o", path("out.jsonl")], environment: ["KEY_A": "sk-a"]) == 0)
                let (one, two) = (first.stats.snapshot().requests, second.stats.snapshot().requests)
                #expect(one + two == 20 && one > 0 && two > 0, "\(one) and \(two)")
                let written = try lines(path("out.jsonl"))
                #expect(written.count == 20)
                #expect(written.allSatisfy { ($0["response"] as? String)?.isEmpty == false })
                // gpt-4o is served by neither: refused on line 1, nothing sent.
                #expect(
                    await pacer(
                        arguments + ["-o", path("other.jsonl"), "--model", "gpt-4o"],
                        environment: ["KEY_A": "sk-a"]
                    ) == 2
                )
                #expect(first.stats.snapshot().requests + second.stats.snapshot().requests == 20)
            }
        }
    }

    @Test func embeddingPacksGoOverTheDeploymentsAndAModelNoneServesStopsTheRun() async throws {
        let texts = try write("texts.txt", (0..<24).map { "text \($0)" }.joined(separator: "\n") + "\n")
        try await withSimulator { first in
            try await withSimulator { second in
                let models = #"["text-embedding-3-small"]"#
                let routes = try write(
                    "routes.json",
                    "{\"deployments\": [\(deployment("one", first, models: models)), \(deployment("two", second, models: models))]}"
                )
                let arguments = ["embed", texts, "-q", "--routes", routes, "--pack", "3", "--dimensions", "4"]
                #expect(await pacer(arguments + ["-o", path("out.jsonl")], environment: ["KEY_A": "sk-a"]) == 0)
                let (one, two) = (first.stats.snapshot().requests, second.stats.snapshot().requests)
                #expect(one + two == 8 && one > 0 && two > 0, "\(one) and \(two) packs")
                #expect(try lines(path("out.jsonl")).count == 24)
                #expect(
                    await pacer(
                        arguments + ["-o", path("other.jsonl"), "--model", "text-embedding-3-large"],
                        environment: ["KEY_A": "sk-a"]
                    ) == 2
                )
                #expect(first.stats.snapshot().requests + second.stats.snapshot().requests == 8)
            }
        }
    }

    @Test func runFlagsThatTheRoutesFileSetsPerDeploymentAreRefused() async throws {
        let input = try write("in.jsonl", requests(1))
        let routes = try write("routes.json", #"{"deployments": []}"#)
        for flags in [["--rpm", "100"], ["--concurrency", "4"], ["--tpm", "1000"]] {
            #expect(await pacer(["batch", input, "--routes", routes] + flags) == 2, "\(flags)")
        }
    }
}
