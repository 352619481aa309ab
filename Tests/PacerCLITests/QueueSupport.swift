import Foundation
import PacerPostgres
import Testing

/// The queue's suites, one test at a time: each starts a PostgreSQL and workers of its own,
/// and several at once on a two-core machine would slow the timing tests running beside them.
@Suite(.serialized) struct QueueSuites {}

/// What the queue's tests share: Batch API input lines, and reading a batch's state straight
/// from the database.
protocol QueueScratch: ScratchFolder {}

extension QueueScratch {
    /// Pushes `count` items in chunks of `chunkSize` to batch `b`.
    func push(_ count: Int, chunkSize: Int, to database: ThrowawayPostgres) async throws {
        let input = try write("in.jsonl", chatLines(count))
        let arguments = ["queue", "push", input, "--db", database.url, "--batch", "b", "-q", "--chunk-size"]
        #expect(await pacer(arguments + [String(chunkSize)]) == 0)
    }

    /// `count` chat lines with ids `req-0`…, each with its own prompt (`prompt 0`…), so that
    /// the simulator counts requests per item.
    func chatLines(_ count: Int, from first: Int = 0) -> String {
        (first..<first + count).map { index in
            #"{"custom_id":"req-\#(index)","method":"POST","url":"/v1/chat/completions","body":{"model":"gpt-4o-mini","messages":[{"role":"user","content":"prompt \#(index)"}]}}"#
        }.joined(separator: "\n") + "\n"
    }

    /// The flags that make a worker quick in a test: short heartbeats and flushes, short
    /// backoff, and enough retries that injected faults never fail an item. Other workers count
    /// one as gone after `reapAfter` seconds without a heartbeat: 10 by default, far beyond the
    /// 1–2 s a starved machine delays a live worker's heartbeat (at 1 s, such a worker could be
    /// reaped); the test that kills a worker passes 1.
    func workerFlags(
        _ database: ThrowawayPostgres,
        batch: String,
        baseURL: String,
        reapAfter: Double = 10
    ) -> [String] {
        [
            "worker", "--db", database.url, "--batch", batch, "--base-url", baseURL, "-q",
            "--heartbeat", "0.2", "--reap-after", String(reapAfter), "--flush-interval", "0.05",
            "--max-retries", "12", "--backoff-base", "0.01", "--backoff-cap", "0.05", "--retry-budget", "off",
        ]
    }

    /// The batch's status, read with the library.
    func status(_ database: ThrowawayPostgres, batch: String) async throws -> QueueStatus? {
        try await QueueDatabase.withDatabase(try DatabaseURL(database.url)) { connection in
            try await BatchQueue(database: connection, batch: batch).status()
        }
    }

    /// The `custom_id`s of a JSONL file's lines.
    func customIDs(_ file: String) throws -> [String] {
        guard FileManager.default.fileExists(atPath: file) else { return [] }
        return try lines(file).compactMap { $0["custom_id"] as? String }
    }

    /// A worker's `--summary-json`.
    func workerSummary(_ file: String) throws -> [String: Any] {
        try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file))) as? [String: Any]
        )
    }
}
