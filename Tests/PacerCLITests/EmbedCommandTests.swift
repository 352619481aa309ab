import Foundation
import PacerCore
import PacerSimulator
import PacerTesting
import Testing

@testable import PacerCLI

/// `pacer embed`: many texts to a request, one line per text (issue 10).
@Suite struct EmbedCommandTests: ScratchFolder {
    let directory: URL

    init() throws { directory = try makeScratchFolder() }

    @Test func textsArePackedAndEachGetsOneLineWithItsEmbedding() async throws {
        let input = try write("texts.txt", (1...1000).map { "text number \($0)" }.joined(separator: "\n") + "\n")
        let output = path("out.jsonl")
        let stats = try await withSimulator { server in
            #expect(
                await pacer([
                    "embed", input, "-o", output, "-q", "--base-url", server.baseURL, "--dimensions", "3", "--pack",
                    "100",
                ]) == 0
            )
            return server.stats.snapshot()
        }
        #expect(stats.requests == 10, "1,000 texts in packs of 100")
        let lines = try lines(output)
        #expect(lines.count == 1000 && Set(lines.compactMap { $0["id"] as? String }).count == 1000)
        for line in lines {
            #expect((line["embedding"] as? [Double])?.count == 3 && line["success"] as? Bool == true)
        }
        // The texts' shares of usage add up to what the server counted.
        let tokens = lines.compactMap { ($0["usage"] as? [String: Any])?["prompt_tokens"] as? Int }.reduce(0, +)
        #expect(tokens == stats.byEndpoint["embeddings"]?.tokens.prompt)
    }

    /// `--cache`: a rerun into another output sends nothing and writes the same vectors; the
    /// same corpus with texts added at its end sends only the new pack.
    @Test func packsAnsweredBeforeComeFromTheCache() async throws {
        let texts = (1...30).map { "text number \($0)" }
        let input = try write("texts.txt", texts.joined(separator: "\n") + "\n")
        let longer = try write(
            "longer.txt",
            (texts + (31...35).map { "text number \($0)" }).joined(separator: "\n") + "\n"
        )
        let cache = path("cache")
        try await withSimulator { server in
            func embed(_ input: String, _ output: String) async -> Int32 {
                await pacer([
                    "embed", input, "-o", path(output), "-q", "--base-url", server.baseURL, "--dimensions", "3",
                    "--pack", "10", "--cache", cache,
                ])
            }
            #expect(await embed(input, "a.jsonl") == 0)
            #expect(server.stats.snapshot().requests == 3)
            #expect(await embed(input, "b.jsonl") == 0)
            #expect(server.stats.snapshot().requests == 3, "every pack from the cache")
            let (first, again) = (try lines(path("a.jsonl")), try lines(path("b.jsonl")))
            #expect(again.allSatisfy { $0["cached"] as? Bool == true && $0["success"] as? Bool == true })
            #expect(
                Dictionary(
                    uniqueKeysWithValues: first.map { ($0["id"] as? String ?? "", $0["embedding"] as? [Double] ?? []) }
                )
                    == Dictionary(
                        uniqueKeysWithValues: again.map {
                            ($0["id"] as? String ?? "", $0["embedding"] as? [Double] ?? [])
                        }
                    )
            )
            #expect(await embed(longer, "c.jsonl") == 0)
            #expect(server.stats.snapshot().requests == 4, "only the pack of the five new texts")
            #expect(try lines(path("c.jsonl")).count(where: { $0["cached"] as? Bool == true }) == 30)
        }
    }

    /// Issue 20: a refusal about a parameter, not an input, fails each pack once. On 991d846
    /// `--dimensions 5000` made 1,990 refused requests for 10 packs.
    @Test func aRefusalOfAParameterFailsEachPackOnce() async throws {
        let input = try write("texts.txt", (1...100).map { "text number \($0)" }.joined(separator: "\n") + "\n")
        let output = path("out.jsonl")
        let stats = try await withSimulator { server in
            let arguments = [
                "embed", input, "-o", output, "-q", "--base-url", server.baseURL, "--dimensions", "5000", "--pack",
                "10",
            ]
            #expect(await pacer(arguments) == 1)
            return server.stats.snapshot()
        }
        #expect(stats.requests == 10, "one refused request per pack")
        let lines = try lines(output)
        #expect(lines.count == 100 && lines.allSatisfy { $0["success"] as? Bool == false })
    }

    @Test func aTextTheServerRefusesFailsAloneAndARerunRedoesNothingElse() async throws {
        let texts = (1...300).map { $0 == 137 ? "text \($0) POISON" : "text \($0)" }
        let input = try write("texts.txt", texts.joined(separator: "\n") + "\n")
        let output = path("out.jsonl")
        var configuration = SimulatorConfiguration()
        configuration.rejectInputContaining = "POISON"
        try await withSimulator(configuration) { server in
            let arguments = ["embed", input, "-o", output, "-q", "--base-url", server.baseURL, "--dimensions", "2"]
            #expect(await pacer(arguments) == 1)
            #expect(server.stats.snapshot().byEndpoint["embeddings"]?.byStatus["400"] == 2, "the pack, then 137 alone")
            #expect(await pacer(arguments) == 0, "a rerun finds every text done")
            #expect(server.stats.snapshot().requests == 3)
        }
        let lines = try lines(output)
        let failed = lines.filter { $0["success"] as? Bool == false }
        #expect(lines.count == 300 && failed.count == 1 && failed.first?["id"] as? String == "137")
        #expect((failed.first?["error"] as? [String: Any])?["status"] as? Int == 400)
    }

    @Test func aRefusalThatNamesNoInputIsFoundByHalving() async throws {
        // A text over 8,192 tokens: OpenAI's refusal (and the simulator's) names no input, so
        // the pack of 64 is halved until that text stands alone: 6 halvings, 7 refusals.
        let long = String(repeating: "word ", count: 8 * 1024)
        let texts = (1...64).map { $0 == 23 ? long : "text \($0)" }
        let input = try write("texts.txt", texts.joined(separator: "\n") + "\n")
        let output = path("out.jsonl")
        try await withSimulator { server in
            #expect(await pacer(["embed", input, "-o", output, "-q", "--base-url", server.baseURL]) == 1)
            #expect(server.stats.snapshot().byEndpoint["embeddings"]?.byStatus["400"] == 7)
        }
        let lines = try lines(output)
        let failed = lines.filter { $0["success"] as? Bool == false }
        #expect(lines.count == 64 && failed.count == 1 && failed.first?["id"] as? String == "23")
    }

    @Test func base64EmbeddingsAreKeptAsTheServerSentThem() async throws {
        let input = try write(
            "texts.jsonl",
            #"{"id":"a","text":"first"}"# + "\n" + #"{"id":"b","text":"second"}"# + "\n"
        )
        let output = path("out.jsonl")
        try await withSimulator { server in
            #expect(
                await pacer([
                    "embed", input, "-o", output, "-q", "--base-url", server.baseURL, "--dimensions", "5",
                    "--encoding-format", "base64",
                ]) == 0
            )
        }
        let lines = try lines(output)
        #expect(lines.compactMap { $0["id"] as? String } == ["a", "b"])
        for line in lines {
            let text = try #require(line["embedding"] as? String, "\(line)")
            #expect(Data(base64Encoded: text)?.count == 5 * 4, "five little-endian float32s")
        }
    }
}
