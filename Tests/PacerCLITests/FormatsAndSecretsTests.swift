import Foundation
import PacerHTTP
import PacerJSON
import PacerJobs
import PacerOpenAI
import PacerSimulator
import PacerTesting
import Testing

@testable import PacerCLI

@Suite struct FormatsAndSecretsTests: ScratchFolder {
    let directory: URL

    init() throws { directory = try makeScratchFolder() }

    static let batchInput = """
        {"custom_id": "request-1", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "gpt-4o-mini", "messages": [{"role": "system", "content": "You are helpful."}, {"role": "user", "content": "Hello world!"}], "max_tokens": 20}}
        {"custom_id": "request-2", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "gpt-4.1", "messages": [{"role": "user", "content": "Second"}]}}

        """

    struct BatchLine: Decodable {
        struct Response: Decodable {
            var status_code: Int
            var body: JSONValueBox
        }
        var id: String
        var custom_id: String
        var response: Response?
    }

    /// Keeps a body's raw JSON for a second decode.
    struct JSONValueBox: Decodable {
        var data: Data
        init(from decoder: any Decoder) throws {
            data = try JSONEncoder().encode(try decoder.singleValueContainer().decode(JSONValue.self))
        }
    }

    @Test func batchAPIInputRunsLiveAndItsOutputReadsBackAsBatchAPIOutput() async throws {
        let input = try write("batch.jsonl", Self.batchInput)
        let output = directory.appendingPathComponent("results.jsonl").path
        try await withSimulator { server in
            let arguments = [
                "chat", input, "--base-url", server.baseURL, "-o", output, "--output-format", "batch", "-q",
            ]
            #expect(await pacer(arguments) == 0)
            // Read back by the same code: a rerun finds every custom_id done and sends nothing.
            #expect(await pacer(arguments) == 0)
            #expect(server.stats.snapshot().requests == 2)
        }
        let parsed = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n").map {
            try JSONDecoder().decode(BatchLine.self, from: Data($0.utf8))
        }
        #expect(parsed.map(\.custom_id).sorted() == ["request-1", "request-2"])
        let first = try #require(parsed.first { $0.custom_id == "request-1" }?.response)
        #expect(first.status_code == 200)
        let completion = try JSONDecoder().decode(ChatCompletionResponse.self, from: first.body.data)
        #expect(completion.model == "gpt-4o-mini")
        #expect((completion.usage?.completionTokens ?? 99) <= 20)
        #expect(parsed.first { $0.custom_id == "request-2" }?.response?.status_code == 200)

        // An HTTP error is a response with its status and OpenAI's error body, as in Batch API output.
        let refusedOutput = directory.appendingPathComponent("refused.jsonl").path
        try await withSimulator(SimulatorConfiguration(apiKey: "sk-needed-key-123")) { server in
            #expect(
                await pacer([
                    "chat", input, "--base-url", server.baseURL, "-o", refusedOutput, "--output-format", "batch", "-q",
                ]) == 1
            )
        }
        let refused = try String(contentsOfFile: refusedOutput, encoding: .utf8).split(separator: "\n").map {
            try JSONDecoder().decode(BatchLine.self, from: Data($0.utf8))
        }
        #expect(refused.count == 2)
        let response = try #require(refused.first?.response)
        #expect(response.status_code == 401)
        let error = try JSONDecoder().decode(OpenAIErrorBody.self, from: response.body.data)
        #expect(error.error.message.contains("API key"))
    }

    @Test func anUnsupportedBatchURLIsAnInputErrorNamingTheLine() async throws {
        let input = try write(
            "batch.jsonl",
            #"{"custom_id": "a", "method": "POST", "url": "/v1/embeddings", "body": {"input": "x", "model": "text-embedding-3-small"}}"#
                + "\n"
        )
        let error = await #expect(throws: InputError.self) {
            _ = try await ItemSource(path: input, format: .auto, parser: .chat).count()
        }
        #expect(error?.line == 1)
        #expect(error?.message.contains("unsupported Batch API \"url\"") == true)
        #expect(await pacer(["chat", input, "--base-url", "http://127.0.0.1:9/v1", "-q"]) == 2)
    }

    @Test func pricesComeFromAFileOrFlagsAndAnUnknownModelStaysUnknown() async throws {
        let input = try write("p.txt", "hello\n")
        let prices = try write(
            "prices.json",
            #"{"my-llama": {"input_per_million": 1000000, "output_per_million": 2000000}}"#
        )
        func cost(_ arguments: [String]) async throws -> Double? {
            let output = directory.appendingPathComponent("out-\(UUID().uuidString).jsonl").path
            try await withSimulator { server in
                #expect(
                    await pacer(["chat", input, "--base-url", server.baseURL, "-o", output, "-q"] + arguments) == 0
                )
            }
            let line = try #require(
                try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: output))) as? [String: Any]
            )
            let tokens = try #require(line["tokens"] as? [String: Int])
            let expected = Double(tokens["prompt"]! * 1 + tokens["completion"]! * 2)
            if let cost = line["cost_usd"] as? Double { #expect(abs(cost - expected) < 1e-9) }
            return line["cost_usd"] as? Double
        }
        #expect(try await cost(["--model", "my-llama"]) == nil)
        #expect(try await cost(["--model", "my-llama", "--prices", prices]) != nil)
        #expect(try await cost(["--model", "another-llama", "--price-in", "1000000", "--price-out", "2000000"]) != nil)
        let bad = try write("bad-prices.json", "[1, 2]")
        #expect(await pacer(["chat", input, "--base-url", "http://127.0.0.1:9/v1", "--prices", bad, "-q"]) == 2)
        #expect(await pacer(["chat", input, "--base-url", "http://127.0.0.1:9/v1", "--price-in", "1", "-q"]) == 2)
    }

    @Test func theKeyCanComeFromAFile() async throws {
        let keyFile = try write("key.txt", "sk-from-a-file-1234567890\n")
        let input = try write("p.txt", "hello\n")
        let output = directory.appendingPathComponent("out.jsonl").path
        try await withSimulator(SimulatorConfiguration(apiKey: "sk-from-a-file-1234567890")) { server in
            #expect(
                await pacer([
                    "chat", input, "--base-url", server.baseURL, "--api-key-file", keyFile, "-o", output, "-q",
                ]) == 0
            )
        }
        #expect(
            await pacer(["chat", input, "--api-key-file", directory.appendingPathComponent("missing").path, "-q"]) == 2
        )
        let empty = try write("empty-key.txt", "\n")
        #expect(await pacer(["chat", input, "--api-key-file", empty, "-q"]) == 2)
    }

    @Test func theKeyAppearsNowhereEvenOn401WithVerbose() async throws {
        let key = "sk-subprocess-secret-9876543210abcdef"
        let input = try write("p.txt", "one\ntwo\nthree\n")
        let stdout = directory.appendingPathComponent("stdout.jsonl")
        let stderr = directory.appendingPathComponent("stderr.txt")
        try await withSimulator(SimulatorConfiguration(apiKey: "sk-the-right-one")) { server in
            let run = try PacerProcess(
                [
                    "chat", input, "--base-url", server.baseURL, "--verbose", "--summary-json",
                    directory.appendingPathComponent("s.json").path,
                ],
                environment: ["OPENAI_API_KEY": key],
                stderrFile: stderr,
                stdoutFile: stdout
            )
            let (status, errors) = try await run.run()
            #expect(status == 1)
            #expect(errors.contains("401") || errors.contains("Completed: 0/3"))
        }
        for file in [stdout, stderr, directory.appendingPathComponent("s.json")] {
            let text = try String(contentsOf: file, encoding: .utf8)
            #expect(!text.contains(key), "\(file.lastPathComponent) contains the key")
        }
        // The server echoed the key in its 401 message; what reached the output is redacted.
        #expect(try String(contentsOf: stdout, encoding: .utf8).contains("[REDACTED]"))
    }
}
