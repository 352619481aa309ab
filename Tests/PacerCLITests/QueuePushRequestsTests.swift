import Foundation
import PacerPostgres
import PacerSimulator
import PacerTesting
import Testing

@testable import PacerCLI

extension QueueSuites {
    /// Issue 20: `pacer queue push` takes what `pacer chat` and `pacer embed` take (prompts,
    /// texts, with `--model` and the other request options), not only Batch API lines; on
    /// 991d846 a prompt file was refused as "expected an OpenAI Batch API line".
    @Suite(.timeLimit(.minutes(3))) struct QueuePushRequestsTests: QueueScratch {
        let directory: URL

        init() throws { directory = try makeScratchFolder() }

        @Test func promptsAndTextsArePushedAsTheRequestsChatAndEmbedSend() async throws {
            let prompts = try write(
                "prompts.txt",
                #"{"prompt": "What is Python?"}"# + "\n"
                    + #"{"id": "own", "prompt": "What is async?", "max_tokens": 3}"#
                    + "\n"
            )
            let texts = try write("texts.txt", "first text\nsecond text\nthird text\n")
            let chatOutput = path("chat.jsonl")
            let embedOutput = path("embed.jsonl")
            try await withPostgres { database in
                let push = ["queue", "push", "--db", database.url, "-q"]
                #expect(
                    await pacer(
                        push + [
                            prompts, "--batch", "c", "--requests", "chat", "--model", "gpt-4.1", "--max-tokens", "7",
                        ]
                    ) == 0
                )
                #expect(
                    await pacer(push + [texts, "--batch", "e", "--requests", "embeddings", "--dimensions", "4"]) == 0
                )
                // Request options belong to prompts and texts: Batch API lines carry their own.
                #expect(await pacer(push + [prompts, "--batch", "x", "--model", "m"]) == 2)
                try await withSimulator { server in
                    for batch in ["c", "e"] {
                        #expect(await pacer(workerFlags(database, batch: batch, baseURL: server.baseURL)) == 0)
                    }
                }
                let export = ["queue", "export", "--db", database.url, "-q"]
                #expect(await pacer(export + ["--batch", "c", "-o", chatOutput]) == 0)
                #expect(await pacer(export + ["--batch", "e", "-o", embedOutput]) == 0)
            }
            let chat = try lines(chatOutput)
            #expect(chat.compactMap { $0["custom_id"] as? String } == ["1", "own"])
            for line in chat {
                let body = try #require((line["response"] as? [String: Any])?["body"] as? [String: Any])
                #expect(body["object"] as? String == "chat.completion")
                #expect(body["model"] as? String == "gpt-4.1")
                let completion = try #require((body["usage"] as? [String: Any])?["completion_tokens"] as? Int)
                #expect(completion <= (line["custom_id"] as? String == "own" ? 3 : 7), "the line's max_tokens wins")
            }
            let embeddings = try lines(embedOutput)
            #expect(embeddings.compactMap { $0["custom_id"] as? String } == ["1", "2", "3"])
            for line in embeddings {
                let body = try #require((line["response"] as? [String: Any])?["body"] as? [String: Any])
                let data = try #require(body["data"] as? [[String: Any]])
                #expect(data.count == 1 && (data.first?["embedding"] as? [Double])?.count == 4)
            }
        }
    }
}
