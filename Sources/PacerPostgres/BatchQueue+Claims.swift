import Foundation
import PostgresNIO

/// What a heartbeat found: workers that went quiet and the chunks taken back from them.
public struct ReaperOutcome: Sendable, Hashable {
    /// Workers marked lost: their heartbeat is older than the reaper's threshold.
    public var lostWorkers: Int
    /// Chunks returned to the batch from lost, stopped or unknown workers.
    public var returnedChunks: Int
}

extension BatchQueue {
    /// Records `worker`'s heartbeat on the database's clock (registering it the first time; a
    /// worker marked lost is running again, one that stopped stays stopped),
    /// and with `reapAfter` also runs the reaper: workers of this batch whose heartbeat is
    /// older are marked lost, and their claimed chunks — and any claimed by a worker that
    /// stopped without giving them back — become pending again.
    ///
    /// Any worker can reap, and two reaping at once return each chunk once (the updates lock
    /// the rows). The clocks of the machines never matter: ages are `now()` on the server.
    public func heartbeat(_ worker: WorkerIdentity, reapAfter: Duration? = nil) async throws -> ReaperOutcome {
        let reap = reapAfter != nil
        let threshold = (reapAfter ?? .zero).secondsValue
        let rows = try await database.query(
            """
            WITH beat AS (
                INSERT INTO pacer_workers (id, batch, host, pid) VALUES (\(worker.id), \(batch), \(worker.host), \(worker.pid))
                ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(),
                    state = CASE WHEN pacer_workers.state = 'stopped' THEN 'stopped' ELSE 'running' END
                RETURNING id
            ), lost AS (
                UPDATE pacer_workers SET state = 'lost'
                WHERE \(reap) AND batch = \(batch) AND state = 'running' AND id <> \(worker.id)
                    AND heartbeat_at < now() - make_interval(secs => \(threshold))
                RETURNING id
            ), returned AS (
                UPDATE pacer_chunks SET state = 'pending', worker = NULL
                WHERE \(reap) AND batch = \(batch) AND state = 'claimed' AND worker <> \(worker.id)
                    AND (worker IN (SELECT id FROM lost)
                        OR worker NOT IN (SELECT id FROM pacer_workers WHERE batch = \(batch) AND state = 'running'))
                RETURNING chunk
            )
            SELECT (SELECT count(*) FROM lost), (SELECT count(*) FROM returned), (SELECT count(*) FROM beat)
            """
        )
        // Every row is read, even when the answer is in the first: a row stream left unread
        // holds its connection.
        var outcome = ReaperOutcome(lostWorkers: 0, returnedChunks: 0)
        for try await (lost, returned, _) in rows.decode((Int, Int, Int).self) {
            outcome = ReaperOutcome(lostWorkers: lost, returnedChunks: returned)
        }
        return outcome
    }

    /// Claims the next pending chunk for `worker`; `nil` when no chunk is pending.
    ///
    /// The chunk is picked with `FOR UPDATE SKIP LOCKED` in a CTE (workers claiming at once
    /// never wait for each other nor get the same chunk) and marked claimed with
    /// `UPDATE … RETURNING`. Read its items with ``items(of:)``: a separate statement, so
    /// that a retry after an outage reads the same chunk's items instead of claiming another.
    public func claimChunk(for worker: WorkerIdentity) async throws -> ClaimedRange? {
        let claimed = try await database.query(
            """
            WITH next AS (
                SELECT chunk FROM pacer_chunks
                WHERE batch = \(batch) AND state = 'pending'
                ORDER BY chunk
                LIMIT 1
                FOR UPDATE SKIP LOCKED
            )
            UPDATE pacer_chunks c
            SET state = 'claimed', worker = \(worker.id), claimed_at = now(), claims = c.claims + 1
            FROM next
            WHERE c.batch = \(batch) AND c.chunk = next.chunk
            RETURNING c.chunk, c.first_seq, c.last_seq
            """
        )
        var range: ClaimedRange?
        for try await (chunk, first, last) in claimed.decode((Int64, Int64, Int64).self) {
            range = ClaimedRange(chunk: chunk, firstSeq: first, lastSeq: last)
        }
        return range
    }

    /// A claimed chunk with its items that have no result yet (none, when another worker
    /// stored them all before the chunk came back).
    ///
    /// The items are read by their key range, given as constants: joined to the claim in one
    /// statement, the planner (whose statistics never know a new batch) scanned the whole
    /// batch's items and results for every claim.
    public func items(of range: ClaimedRange) async throws -> ClaimedChunk {
        let rows = try await database.query(
            """
            SELECT i.seq, i.custom_id, i.url, i.body FROM pacer_items i
            WHERE i.batch = \(batch) AND i.seq BETWEEN \(range.firstSeq) AND \(range.lastSeq)
                AND NOT EXISTS (
                    SELECT 1 FROM pacer_results r
                    WHERE r.batch = \(batch) AND r.seq BETWEEN \(range.firstSeq) AND \(range.lastSeq) AND r.seq = i.seq
                )
            ORDER BY i.seq
            """
        )
        var chunk = ClaimedChunk(chunk: range.chunk, items: [])
        for try await (seq, customID, url, body) in rows.decode((Int64, String, String, String).self) {
            chunk.items.append(QueueItem(seq: seq, chunk: range.chunk, customID: customID, url: url, body: body))
        }
        return chunk
    }

    /// Returns to the batch the chunks `worker` holds other than `known`: claims whose answer
    /// an outage lost (the claim was stored, the worker never heard of it). Returns how many.
    public func releaseForgotten(by worker: WorkerIdentity, keeping known: [Int64]) async throws -> Int {
        let rows = try await database.query(
            """
            WITH released AS (
                UPDATE pacer_chunks SET state = 'pending', worker = NULL
                WHERE batch = \(batch) AND state = 'claimed' AND worker = \(worker.id)
                    AND NOT (chunk = ANY(\(known)::bigint[]))
                RETURNING chunk
            )
            SELECT count(*) FROM released
            """
        )
        var released = 0
        for try await count in rows.decode(Int.self) { released = count }
        return released
    }

    /// Gives `worker`'s claimed chunks back (their items without a result become claimable
    /// again) and marks the worker stopped; returns the chunks given back.
    @discardableResult
    public func giveBack(_ worker: WorkerIdentity) async throws -> Int {
        let rows = try await database.query(
            """
            WITH back AS (
                UPDATE pacer_chunks SET state = 'pending', worker = NULL
                WHERE batch = \(batch) AND state = 'claimed' AND worker = \(worker.id)
                RETURNING chunk
            ), me AS (
                UPDATE pacer_workers SET state = 'stopped', heartbeat_at = now() WHERE id = \(worker.id)
                RETURNING id
            ), told AS (
                SELECT pg_notify('pacer_queue', \(batch)) WHERE EXISTS (SELECT 1 FROM back)
            )
            SELECT (SELECT count(*) FROM back), (SELECT count(*) FROM me), (SELECT count(*) FROM told)
            """
        )
        var returned = 0
        for try await (count, _, _) in rows.decode((Int, Int, Int).self) { returned = count }
        return returned
    }

    /// Makes the batch's failed items claimable again (`--retry-failed`): their results are
    /// deleted and their chunks pending. Chunks a worker holds now are left alone (that
    /// worker would not see the change); a later `--retry-failed` reaches them.
    ///
    /// - Returns: The items and chunks reopened.
    public func reopenFailures() async throws -> (items: Int, chunks: Int) {
        let rows = try await database.query(
            """
            WITH reopened AS (
                UPDATE pacer_chunks SET state = 'pending', worker = NULL
                WHERE batch = \(batch) AND state <> 'claimed'
                    AND chunk IN (SELECT DISTINCT chunk FROM pacer_results WHERE batch = \(batch) AND NOT success)
                RETURNING chunk
            ), dropped AS (
                DELETE FROM pacer_results r USING reopened
                WHERE r.batch = \(batch) AND r.chunk = reopened.chunk AND NOT r.success
                RETURNING r.seq
            ), told AS (
                SELECT pg_notify('pacer_queue', \(batch)) WHERE EXISTS (SELECT 1 FROM reopened)
            )
            SELECT (SELECT count(*) FROM dropped), (SELECT count(*) FROM reopened), (SELECT count(*) FROM told)
            """
        )
        var reopened = (items: 0, chunks: 0)
        for try await (items, chunks, _) in rows.decode((Int, Int, Int).self) { reopened = (items, chunks) }
        return reopened
    }
}
