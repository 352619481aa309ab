import Foundation
import PostgresNIO

/// What a heartbeat found: workers that went quiet and the chunks taken back from them, and
/// what the database says of this worker and its batch.
public struct ReaperOutcome: Sendable, Hashable {
    /// Workers marked lost: their heartbeat is older than the reaper's threshold.
    public var lostWorkers: Int
    /// Chunks returned to the batch from lost, stopped or unknown workers.
    public var returnedChunks: Int
    /// The batch's generation now; `nil` when there is no batch of this name.
    public var generation: Int64?
    /// How many times the reaper has taken this worker's chunks (its row's `reaps`, read under
    /// the row's lock, so a reap that ran meanwhile is counted); `nil` when the worker has no
    /// row (its batch is another push than the worker's).
    public var reaps: Int?

    /// Creates an outcome.
    public init(lostWorkers: Int, returnedChunks: Int, generation: Int64? = nil, reaps: Int? = nil) {
        self.lostWorkers = lostWorkers
        self.returnedChunks = returnedChunks
        self.generation = generation
        self.reaps = reaps
    }
}

/// Where a batch stands for a worker that found nothing to claim: whether it may end.
public struct BatchOutlook: Sendable, Hashable {
    /// The batch's generation now; `nil` when there is no batch of this name.
    public var generation: Int64?
    /// Chunks waiting to be claimed.
    public var pending: Int
    /// Chunks claimed by other workers: they may come back (given back, or reaped from a
    /// worker gone quiet), so the batch is not done while there are any.
    public var heldByOthers: Int

    /// Creates an outlook.
    public init(generation: Int64?, pending: Int, heldByOthers: Int) {
        self.generation = generation
        self.pending = pending
        self.heldByOthers = heldByOthers
    }
}

extension BatchQueue {
    /// Records `worker`'s heartbeat on the database's clock (registering it the first time; a
    /// worker marked lost is running again, one that stopped stays stopped), with its own
    /// `ownReapAfter` (no reaper takes it for gone sooner); with `reapAfter` it also runs the
    /// reaper: workers of this batch whose heartbeat is older than that (or than their own
    /// setting, if longer) are marked lost (their `reaps` counted), and their claimed chunks —
    /// and any claimed by a worker that stopped without giving them back — become pending again.
    ///
    /// With `generation`, the worker serves that push of the batch: once the batch is gone or
    /// is another push, the heartbeat neither registers the worker again nor reaps, and the
    /// outcome's ``ReaperOutcome/generation`` tells the worker so.
    ///
    /// Any worker can reap, and two reaping at once return each chunk once (the updates lock
    /// the rows). The clocks of the machines never matter: ages are `now()` on the server.
    public func heartbeat(
        _ worker: WorkerIdentity,
        generation: Int64? = nil,
        ownReapAfter: Duration? = nil,
        reapAfter: Duration? = nil
    ) async throws -> ReaperOutcome {
        let reap = reapAfter != nil
        let threshold = (reapAfter ?? .zero).secondsValue
        let own = (ownReapAfter ?? .zero).secondsValue
        let rows = try await database.query(
            """
            WITH current AS (
                SELECT generation FROM pacer_batches WHERE name = \(batch)
            ), ours AS (
                SELECT \(generation)::bigint IS NULL OR EXISTS (SELECT 1 FROM current WHERE generation = \(generation)::bigint)
                    AS ok
            ), beat AS (
                INSERT INTO pacer_workers (id, batch, host, pid, reap_after)
                SELECT \(worker.id), \(batch), \(worker.host), \(worker.pid), \(own) WHERE (SELECT ok FROM ours)
                ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), reap_after = EXCLUDED.reap_after,
                    state = CASE WHEN pacer_workers.state = 'stopped' THEN 'stopped' ELSE 'running' END
                RETURNING reaps
            ), lost AS (
                UPDATE pacer_workers w SET state = 'lost', reaps = w.reaps + 1
                WHERE \(reap) AND (SELECT ok FROM ours) AND w.batch = \(batch) AND w.id <> \(worker.id)
                    AND w.heartbeat_at < now() - make_interval(secs => greatest(\(threshold), w.reap_after))
                    AND (w.state = 'running' OR (w.state = 'lost' AND EXISTS (
                        SELECT 1 FROM pacer_chunks c WHERE c.batch = \(batch) AND c.state = 'claimed' AND c.worker = w.id)))
                RETURNING w.id
            ), returned AS (
                UPDATE pacer_chunks SET state = 'pending', worker = NULL
                WHERE \(reap) AND (SELECT ok FROM ours) AND batch = \(batch) AND state = 'claimed' AND worker <> \(worker.id)
                    AND (worker IN (SELECT id FROM lost)
                        OR worker NOT IN (
                            SELECT id FROM pacer_workers WHERE batch = \(batch) AND state IN ('running', 'lost')))
                RETURNING chunk
            )
            SELECT (SELECT count(*) FROM lost), (SELECT count(*) FROM returned), (SELECT generation FROM current),
                (SELECT reaps FROM beat)
            """
        )
        // Every row is read, even when the answer is in the first: a row stream left unread
        // holds its connection.
        var outcome = ReaperOutcome(lostWorkers: 0, returnedChunks: 0)
        for try await (lost, returned, current, reaps) in rows.decode((Int, Int, Int64?, Int?).self) {
            outcome = ReaperOutcome(lostWorkers: lost, returnedChunks: returned, generation: current, reaps: reaps)
        }
        return outcome
    }

    /// Claims the next pending chunk of `generation` (the push the worker serves) for
    /// `worker`; `nil` when no chunk is pending, or the batch is another push.
    ///
    /// The chunk is picked with `FOR UPDATE SKIP LOCKED` in a CTE (workers claiming at once
    /// never wait for each other nor get the same chunk) and marked claimed with
    /// `UPDATE … RETURNING`. The same statement refreshes the worker's heartbeat and marks it
    /// running (a worker the reaper took for lost is alive after all), and returns its reaps.
    /// Read the chunk's items with ``items(of:)``: a separate statement, so that a retry after
    /// an outage reads the same chunk's items instead of claiming another.
    public func claimChunk(for worker: WorkerIdentity, generation: Int64) async throws -> ClaimedRange? {
        let claimed = try await database.query(
            """
            WITH next AS (
                SELECT chunk FROM pacer_chunks
                WHERE batch = \(batch) AND state = 'pending'
                    AND EXISTS (SELECT 1 FROM pacer_batches WHERE name = \(batch) AND generation = \(generation))
                ORDER BY chunk
                LIMIT 1
                FOR UPDATE SKIP LOCKED
            ), claimed AS (
                UPDATE pacer_chunks c
                SET state = 'claimed', worker = \(worker.id), claimed_at = now(), claims = c.claims + 1
                FROM next
                WHERE c.batch = \(batch) AND c.chunk = next.chunk
                RETURNING c.chunk, c.first_seq, c.last_seq
            ), me AS (
                UPDATE pacer_workers SET heartbeat_at = now(),
                    state = CASE WHEN state = 'stopped' THEN 'stopped' ELSE 'running' END
                WHERE id = \(worker.id) AND EXISTS (SELECT 1 FROM claimed)
                RETURNING reaps
            )
            SELECT chunk, first_seq, last_seq, (SELECT reaps FROM me) FROM claimed
            """
        )
        var range: ClaimedRange?
        for try await (chunk, first, last, reaps) in claimed.decode((Int64, Int64, Int64, Int?).self) {
            range = ClaimedRange(chunk: chunk, firstSeq: first, lastSeq: last, reaps: reaps)
        }
        return range
    }

    /// Where the batch stands for `worker`, which found nothing to claim: its generation now,
    /// the chunks pending, and the chunks other workers hold.
    public func outlook(for worker: WorkerIdentity) async throws -> BatchOutlook {
        let rows = try await database.query(
            """
            SELECT (SELECT generation FROM pacer_batches WHERE name = \(batch)),
                (SELECT count(*) FROM pacer_chunks WHERE batch = \(batch) AND state = 'pending'),
                (SELECT count(*) FROM pacer_chunks
                    WHERE batch = \(batch) AND state = 'claimed' AND worker IS DISTINCT FROM \(worker.id))
            """
        )
        var outlook = BatchOutlook(generation: nil, pending: 0, heldByOthers: 0)
        for try await (generation, pending, held) in rows.decode((Int64?, Int, Int).self) {
            outlook = BatchOutlook(generation: generation, pending: pending, heldByOthers: held)
        }
        return outlook
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
