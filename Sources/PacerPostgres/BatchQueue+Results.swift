import Foundation
import PostgresNIO

extension BatchQueue {
    /// Stores `results` for `worker`, keyed by item, with `ON CONFLICT DO NOTHING`: an item
    /// whose result is already stored (by a worker that was thought dead, say) keeps the first.
    /// In the same statement, the chunks in `finishedChunks` that `worker` still holds are
    /// marked done, and the worker's heartbeat and counts are updated: one round trip for a
    /// whole batch of completions.
    ///
    /// - Returns: The results inserted (the others were there already) and the chunks marked done.
    @discardableResult
    public func store(
        _ results: [StoredResult],
        finishedChunks: [Int64],
        for worker: WorkerIdentity
    ) async throws -> (inserted: Int, finished: Int) {
        let rows = try await database.query(
            """
            WITH stored AS (
                INSERT INTO pacer_results (batch, seq, chunk, success, line, attempts, worker)
                SELECT \(batch), r.seq, r.chunk, r.success, r.line, r.attempts, \(worker.id)
                FROM unnest(\(results.map(\.seq))::bigint[], \(results.map(\.chunk))::bigint[],
                    \(results.map(\.success))::boolean[], \(results.map(\.line))::text[],
                    \(results.map(\.attempts))::integer[]) AS r(seq, chunk, success, line, attempts)
                ON CONFLICT (batch, seq) DO NOTHING
                RETURNING success
            ), finished AS (
                UPDATE pacer_chunks SET state = 'done'
                WHERE batch = \(batch) AND chunk = ANY(\(finishedChunks)::bigint[])
                    AND state = 'claimed' AND worker = \(worker.id)
                RETURNING chunk
            ), me AS (
                UPDATE pacer_workers
                SET heartbeat_at = now(),
                    succeeded = succeeded + (SELECT count(*) FROM stored WHERE success),
                    failed = failed + (SELECT count(*) FROM stored WHERE NOT success)
                WHERE id = \(worker.id)
                RETURNING id
            )
            SELECT (SELECT count(*) FROM stored), (SELECT count(*) FROM finished), (SELECT count(*) FROM me)
            """
        )
        var outcome = (inserted: 0, finished: 0)
        for try await (inserted, finished, _) in rows.decode((Int, Int, Int).self) { outcome = (inserted, finished) }
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
