import Foundation
import PacerJobs
import PacerSimulator
import PacerTesting
import Testing

@testable import PacerCLI

/// The CLI end to end, in process, against the real simulator.
@Suite struct CLITests: ScratchFolder {
    let directory: URL

    init() throws { directory = try makeScratchFolder() }

    @Test func chatOverTextLinesWritesOneSuccessLinePerPrompt() async throws {
        let input = try write("prompts.txt", "What is Python?\nWhat is async?\n\r\n   \nWhat is AI?\r\n")
        let output = directory.appendingPathComponent("out.jsonl").path
        try await withSimulator { server in
            let status = await pacer([
                "chat", input, "--base-url", server.baseURL, "--output", output, "--concurrency", "3", "--quiet",
            ])
            #expect(status == 0)
        }
        let results = try lines(output)
        #expect(results.count == 3)
        // Blank lines are skipped; ids are line numbers.
        #expect(Set(results.map { $0["id"] as? String }) == ["1", "2", "5"])
        for line in results {
            #expect(line["success"] as? Bool == true)
            #expect((line["response"] as? String)?.isEmpty == false)
            #expect(line["model"] as? String == "gpt-4o-mini")
            #expect(line["attempts"] as? Int == 1)
            #expect(line["latency_ms"] is Int)
            let tokens = try #require(line["tokens"] as? [String: Int])
            #expect(tokens["total"] == tokens["prompt"]! + tokens["completion"]!)
        }
        #expect(
            Set(results.compactMap { $0["prompt"] as? String }) == ["What is Python?", "What is async?", "What is AI?"]
        )
    }

    @Test func chatOverJSONLKeepsTheGivenIdsAndPerLineSettings() async throws {
        let input = try write(
            "prompts.jsonl",
            """
            {"id": "a", "prompt": "first"}
            {"id": 7, "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "second"}], "model": "gpt-4.1"}
            {"prompt": "third", "max_tokens": 5}
            """
        )
        let output = directory.appendingPathComponent("out.jsonl").path
        try await withSimulator { server in
            #expect(await pacer(["chat", input, "--base-url", server.baseURL, "-o", output, "-q"]) == 0)
        }
        let byID = Dictionary(uniqueKeysWithValues: try lines(output).map { ($0["id"] as! String, $0) })
        #expect(Set(byID.keys) == ["a", "7", "3"])
        #expect(byID["7"]?["model"] as? String == "gpt-4.1")
        #expect(byID["7"]?["prompt"] as? String == "second")
        #expect((byID["3"]?["tokens"] as? [String: Int])?["completion"] ?? 99 <= 5)
        #expect(byID["a"]?["index"] as? Int == 0 && byID["3"]?["index"] as? Int == 2)
    }

    @Test func fetchWritesFailuresAndExitsOneWhenSomeItemsFail() async throws {
        let output = directory.appendingPathComponent("out.jsonl").path
        try await withSimulator { server in
            let input = try write(
                "urls.txt",
                (1...5).map { server.postURL($0) }.joined(separator: "\n") + "\n" + server.postURL(4040) + "\n"
            )
            #expect(await pacer(["fetch", input, "--output", output, "--quiet", "--backoff-base", "0.01"]) == 1)
        }
        let results = try lines(output)
        #expect(results.count == 6)
        let failed = try #require(results.first { $0["id"] as? String == "6" })
        #expect(failed["success"] as? Bool == false)
        let error = try #require(failed["error"] as? [String: Any])
        #expect(error["kind"] as? String == "http_status")
        #expect(error["status"] as? Int == 404)
        #expect(failed["attempts"] as? Int == 1)
        let ok = try #require(results.first { $0["id"] as? String == "2" })
        #expect(ok["status"] as? Int == 200)
        #expect((ok["data"] as? [String: Any])?["id"] as? Int == 2)
    }

    @Test(arguments: [
        ("bad.jsonl", "{\"prompt\": \"ok\"}\n{\"prompt\": \"ok\"}\n{\"prompt\": oops}\n", "bad.jsonl:3: invalid JSON"),
        (
            "noprompt.jsonl", "{\"prompt\": \"ok\"}\n{\"text\": \"hi\"}\n",
            "noprompt.jsonl:2: expected a JSON object with \"prompt\" (a string) or \"messages\" (an array)"
        ),
        ("array.jsonl", "{\"prompt\": \"ok\"}\n[1, 2]\n", "array.jsonl:2: expected a JSON object, found an array"),
        ("empty.txt", "\n  \n", "empty.txt: contains no items (empty or blank lines only)"),
    ])
    func unusableChatInputExitsTwoNamingTheLine(name: String, contents: String, message: String) async throws {
        let input = try write(name, contents)
        let output = directory.appendingPathComponent("out.jsonl").path
        let error = await #expect(throws: InputError.self) {
            _ = try await ItemSource(path: input, format: .auto, parser: .chat).count()
        }
        #expect(error?.description == directory.appendingPathComponent(message).path)
        try await withSimulator { server in
            #expect(await pacer(["chat", input, "--base-url", server.baseURL, "--output", output, "-q"]) == 2)
        }
        // Nothing was sent and no output was started.
        #expect(!FileManager.default.fileExists(atPath: output))
    }

    @Test func skipInvalidWritesABadLineAsThatItemsFailureAndGoesOn() async throws {
        let input = try write("mixed.jsonl", "{\"prompt\": \"one\"}\n{\"prompt\": oops}\n{\"prompt\": \"three\"}\n")
        let output = directory.appendingPathComponent("out.jsonl").path
        try await withSimulator { server in
            #expect(
                await pacer(["chat", input, "--base-url", server.baseURL, "-o", output, "-q", "--skip-invalid"]) == 1
            )
            #expect(server.stats.snapshot().requests == 2)
        }
        let results = try lines(output)
        #expect(results.count == 3)
        let bad = try #require(results.first { $0["id"] as? String == "2" })
        let error = try #require(bad["error"] as? [String: Any])
        #expect(error["kind"] as? String == "invalid_input")
        #expect(error["message"] as? String == "\(input):2: invalid JSON")
    }

    @Test func aLineOverOneMebibyteIsRejectedWithItsLine() async throws {
        let input = try write("huge.txt", "short\n" + String(repeating: "x", count: (1 << 20) + 10) + "\nshort\n")
        let error = await #expect(throws: InputError.self) {
            _ = try await ItemSource(path: input, format: .text, parser: .chat).count()
        }
        #expect(error?.line == 2)
        #expect(error?.message == "line is longer than 1 MiB")
        #expect(await pacer(["chat", input, "--base-url", "http://127.0.0.1:9/v1", "-q"]) == 2)
    }

    @Test func binaryInputIsRejectedWithItsLine() async throws {
        let path = directory.appendingPathComponent("blob.bin").path
        try Data([0x68, 0x69, 0x0A, 0xFF, 0xFE, 0x00, 0x0A]).write(to: URL(fileURLWithPath: path))
        let error = await #expect(throws: InputError.self) {
            _ = try await ItemSource(path: path, format: .text, parser: .chat).count()
        }
        #expect(error?.line == 2)
        #expect(await pacer(["chat", path, "--base-url", "http://127.0.0.1:9/v1", "-q"]) == 2)
    }

    @Test(arguments: [
        ("{\"id\": 1, \"link\": \"http://x/1\"}\n", "expected a JSON object with \"url\" (a string)"),
        ("{\"url\": \"http://x/1\", \"headers\": [\"a\"]}\n", "\"headers\" must be an object of strings"),
        ("{\"url\": \"http://x/1\", \"id\": true}\n", "\"id\" must be a string or an integer"),
    ])
    func unusableFetchJSONLExitsTwoNamingTheLine(contents: String, message: String) async throws {
        let input = try write("urls.jsonl", contents)
        let error = await #expect(throws: InputError.self) {
            _ = try await ItemSource(path: input, format: .auto, parser: .fetch).count()
        }
        #expect(error?.description == "\(input):1: \(message)")
        #expect(await pacer(["fetch", input, "-q"]) == 2)
    }

    @Test func aURLThatIsNotHTTPIsAnInputError() async throws {
        let input = try write("urls.txt", "http://127.0.0.1:9/posts/1\nftp://example.com/file\n")
        let error = await #expect(throws: InputError.self) {
            _ = try await ItemSource(path: input, format: .auto, parser: .fetch).count()
        }
        #expect(error?.line == 2)
        #expect(await pacer(["fetch", input, "-q"]) == 2)
    }

    @Test(arguments: [
        ["chat", "/no/such/file.txt", "--base-url", "http://127.0.0.1:9/v1"],
        ["chat", "-", "--concurrency", "0"],
        ["chat", "-", "--concurrency", "-3"],
        ["fetch", "-", "--max-retries", "many"],
        ["fetch", "-", "--timeout", "0"],
        ["fetch", "-", "--deadline", "0"],
        ["chat", "-", "--base-url", "not a url"],
        ["chat", "-", "--jitter", "wobbly"],
        ["fetch", "-", "--header", "no-colon"],
        ["simulate", "--fail-rate", "2"],
        ["simulate", "--faults", "500,meteor"],
        ["launch"],
    ])
    func badUsageExitsTwo(arguments: [String]) async {
        #expect(await pacer(arguments) == 2)
    }

    @Test func aServerWaitLongerThanMaxWaitStopsTheBatchAndLeavesTheRestUnwritten() async throws {
        let input = try write("p.txt", (1...10).map { "prompt \($0)" }.joined(separator: "\n"))
        let output = directory.appendingPathComponent("out.jsonl").path
        let configuration = SimulatorConfiguration(faultRate: 1, faults: [.rateLimited], retryAfter: .seconds(3600))
        try await withSimulator(configuration) { server in
            #expect(
                await pacer(["chat", input, "--base-url", server.baseURL, "-o", output, "-q", "--max-wait", "120"]) == 1
            )
            // Chat sends one request alone first; its answer said "an hour": nothing else was sent.
            #expect(server.stats.snapshot().requests == 1)
        }
        // Nothing finished, so nothing was written: a rerun does all ten.
        #expect(try String(contentsOfFile: output, encoding: .utf8).isEmpty)
    }

    @Test func aMissingKeyForARemoteServerIsAnErrorBeforeAnyRequest() async throws {
        let input = try write("p.txt", "hello\n")
        #expect(
            await pacer(["chat", input, "--base-url", "https://api.example.invalid/v1", "-q"], environment: [:]) == 2
        )
    }

    @Test func theKeyNeverAppearsInTheOutputEvenOn401() async throws {
        let key = "sk-cli-secret-key-0000111122223333"
        let input = try write("p.txt", "hello\nworld\n")
        let output = directory.appendingPathComponent("out.jsonl").path
        try await withSimulator(SimulatorConfiguration(apiKey: "sk-the-right-key")) { server in
            let status = await pacer(
                ["chat", input, "--base-url", server.baseURL, "-o", output, "-q"],
                environment: ["OPENAI_API_KEY": key]
            )
            #expect(status == 1)
        }
        let text = try String(contentsOfFile: output, encoding: .utf8)
        #expect(text.contains("401") && text.contains("[REDACTED]"))
        #expect(!text.contains(key))
    }
}
