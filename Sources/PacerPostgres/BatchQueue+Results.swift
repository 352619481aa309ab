import Foundation
import PostgresNIO

/// What ``BatchQueue/store(_:finishedChunks:for:generation:)`` did.
public struct StoreOutcome: Sendable, Hashable {
    /// Results inserted (the others were refused, or stored before).
    public var inserted: Int
    /// Chunks marked done.
    public var finished: Int
    /// Of the chunks the results belong to, those the worker holds: the results of the others
    /// were refused (the chunk went back to the batch, and may be another worker's now).
    public var held: Set<Int64>
    /// The worker's reaps (see ``ReaperOutcome/reaps``); `nil` when the batch is gone.
    public var reaps: Int?
    /// Whether the batch is still the push the worker serves; when not, nothing was stored.
    public var batchFound: Bool

    /// Creates an outcome.
    public init(inserted: Int, finished: Int, held: Set<Int64>, reaps: Int?, batchFound: Bool) {
        self.inserted = inserted
        self.finished = finished
        self.held = held
        self.reaps = reaps
        self.batchFound = batchFound
    }
}

extension BatchQueue {
    /// Stores `results` for `worker`, keyed by item, with `ON CONFLICT DO NOTHING`: an item
    /// whose result is already stored keeps the first. A result is stored only when its chunk
    /// is claimed by `worker` (a worker the reaper took for lost, whose chunks went back,
    /// stores nothing of them) and the batch is the push `generation` (a worker of a dropped
    /// batch stores nothing in one pushed again under its name). In the same statement, the
    /// chunks in `finishedChunks` that `worker` still holds are marked done, and the worker's
    /// heartbeat and counts are updated: one round trip for a whole batch of completions.
    ///
    /// The batch's row is locked `FOR KEY SHARE` while the results go in, so that a drop
    /// (which locks it first) deletes them too, or finds them refused.
    ///
    /// - Returns: What was stored, and what the database says of the worker's chunks.
    @discardableResult
    public func store(
        _ results: [StoredResult],
        finishedChunks: [Int64],
        for worker: WorkerIdentity,
        generation: Int64
    ) async throws -> StoreOutcome {
        let chunks = Array(Set(results.map(\.chunk)))
        let rows = try await database.query(
            """
            WITH ours AS (
                SELECT 1 FROM pacer_batches WHERE name = \(batch) AND generation = \(generation) FOR KEY SHARE
            ), mine AS (
                SELECT chunk FROM pacer_chunks
                WHERE batch = \(batch) AND state = 'claimed' AND worker = \(worker.id)
                    AND chunk = ANY(\(chunks)::bigint[]) AND EXISTS (SELECT 1 FROM ours)
            ), stored AS (
                INSERT INTO pacer_results (batch, seq, chunk, success, line, attempts, worker)
                SELECT \(batch), r.seq, r.chunk, r.success, r.line, r.attempts, \(worker.id)
                FROM unnest(\(results.map(\.seq))::bigint[], \(results.map(\.chunk))::bigint[],
                    \(results.map(\.success))::boolean[], \(results.map(\.line))::text[],
                    \(results.map(\.attempts))::integer[]) AS r(seq, chunk, success, line, attempts)
                WHERE r.chunk IN (SELECT chunk FROM mine)
                ON CONFLICT (batch, seq) DO NOTHING
                RETURNING success
            ), finished AS (
                UPDATE pacer_chunks SET state = 'done'
                WHERE batch = \(batch) AND chunk = ANY(\(finishedChunks)::bigint[])
                    AND state = 'claimed' AND worker = \(worker.id) AND EXISTS (SELECT 1 FROM ours)
                RETURNING chunk
            ), me AS (
                UPDATE pacer_workers
                SET heartbeat_at = now(),
                    succeeded = succeeded + (SELECT count(*) FROM stored WHERE success),
                    failed = failed + (SELECT count(*) FROM stored WHERE NOT success)
                WHERE id = \(worker.id) AND EXISTS (SELECT 1 FROM ours)
                RETURNING reaps
            )
            SELECT (SELECT count(*) FROM stored), (SELECT count(*) FROM finished),
                (SELECT coalesce(array_agg(chunk), '{}') FROM mine), (SELECT reaps FROM me), (SELECT count(*) FROM ours)
            """
        )
        var outcome = StoreOutcome(inserted: 0, finished: 0, held: [], reaps: nil, batchFound: false)
        for try await (inserted, finished, held, reaps, found) in rows.decode((Int, Int, [Int64], Int?, Int).self) {
            outcome = StoreOutcome(
                inserted: inserted,
                finished: finished,
                held: Set(held),
                reaps: reaps,
                batchFound: found > 0
            )
        }
        return outcome
    }

    /// Calls `body` with every stored result of the batch, in batch (push) order: whether it
    /// succeeded, and its line. The rows are streamed (one round trip, however many).
    public func forEachResult(_ body: (_ success: Bool, _ line: String) async throws -> Void) async throws {
        let rows = try await database.query(
            "SELECT success, line FROM pacer_results WHERE batch = \(batch) ORDER BY seq"
        )
        for try await (success, line) in rows.decode((Bool, String).self) {
            try await body(success, line)
        }
    }
}
