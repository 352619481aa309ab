import Foundation
import PostgresNIO

/// Where a batch stands, for `pacer queue status`.
public struct QueueStatus: Sendable, Hashable {
    /// Items pushed.
    public var items: Int
    /// Items whose result is a success.
    public var succeeded: Int
    /// Items whose result is a failure.
    public var failed: Int
    /// Items in chunks that workers hold, without a result yet.
    public var inFlight: Int
    /// Results stored in the last minute.
    public var lastMinute: Int
    /// Seconds from the first of those to now (under 60 when the batch started less than a
    /// minute ago).
    public var lastMinuteSeconds: Double
    /// The workers seen for this batch, oldest first.
    public var workers: [Worker]

    /// Items with a result.
    public var done: Int { succeeded + failed }
    /// Items no worker holds and without a result.
    public var pending: Int { max(0, items - done - inFlight) }
    /// Results stored per second over the last minute (or since the first, if later).
    public var perSecond: Double { Double(lastMinute) / min(60, max(1, lastMinuteSeconds)) }
    /// Seconds until every item has a result at the last minute's rate; `nil` when nothing
    /// was stored in the last minute, no worker is running, or everything is done.
    public var etaSeconds: Double? {
        guard lastMinute > 0, done < items, workers.contains(where: { $0.state == "running" }) else { return nil }
        return Double(items - done) / perSecond
    }

    /// One worker, as its row says.
    public struct Worker: Sendable, Hashable {
        /// Its id.
        public var id: UUID
        /// Its machine.
        public var host: String
        /// Its process id there.
        public var pid: Int
        /// `running`, `stopped` (it gave its chunks back), or `lost` (the reaper found it quiet).
        public var state: String
        /// Seconds since it started.
        public var upSeconds: Double
        /// Seconds since its last heartbeat, on the database's clock.
        public var quietSeconds: Double
        /// Successes it stored.
        public var succeeded: Int
        /// Failures it stored.
        public var failed: Int
        /// Chunks it holds now.
        public var chunks: Int
    }
}

extension BatchQueue {
    /// The batch's counts and its workers (two round trips); `nil` when nothing was pushed to it.
    public func status() async throws -> QueueStatus? {
        try await unlessUnused { try await readStatus() }
    }

    private func readStatus() async throws -> QueueStatus? {
        let counts = try await database.query(
            """
            SELECT b.items,
                (SELECT count(*) FROM pacer_results r WHERE r.batch = b.name AND r.success),
                (SELECT count(*) FROM pacer_results r WHERE r.batch = b.name AND NOT r.success),
                (SELECT coalesce(sum(c.last_seq - c.first_seq + 1), 0)::bigint FROM pacer_chunks c
                    WHERE c.batch = b.name AND c.state = 'claimed')
                    - (SELECT count(*) FROM pacer_results r JOIN pacer_chunks c ON c.batch = r.batch AND c.chunk = r.chunk
                        WHERE r.batch = b.name AND c.state = 'claimed'),
                (SELECT count(*) FROM pacer_results r
                    WHERE r.batch = b.name AND r.stored_at > now() - interval '60 seconds'),
                (SELECT coalesce(extract(epoch FROM now() - min(r.stored_at))::float8, 0) FROM pacer_results r
                    WHERE r.batch = b.name AND r.stored_at > now() - interval '60 seconds')
            FROM pacer_batches b WHERE b.name = \(batch)
            """
        )
        var status: QueueStatus?
        for try await (items, succeeded, failed, inFlight, lastMinute, seconds) in counts.decode(
            (Int, Int, Int, Int, Int, Double).self
        ) {
            status = QueueStatus(
                items: items,
                succeeded: succeeded,
                failed: failed,
                inFlight: inFlight,
                lastMinute: lastMinute,
                lastMinuteSeconds: seconds,
                workers: []
            )
        }
        guard var status else { return nil }
        let workers = try await database.query(
            """
            SELECT w.id, w.host, w.pid, w.state,
                extract(epoch FROM now() - w.started_at)::float8, extract(epoch FROM now() - w.heartbeat_at)::float8,
                w.succeeded, w.failed,
                (SELECT count(*) FROM pacer_chunks c WHERE c.batch = w.batch AND c.state = 'claimed' AND c.worker = w.id)
            FROM pacer_workers w WHERE w.batch = \(batch) ORDER BY w.started_at
            """
        )
        for try await (id, host, pid, state, up, quiet, succeeded, failed, chunks) in workers.decode(
            (UUID, String, Int, String, Double, Double, Int, Int, Int).self
        ) {
            status.workers.append(
                QueueStatus.Worker(
                    id: id,
                    host: host,
                    pid: pid,
                    state: state,
                    upSeconds: up,
                    quietSeconds: quiet,
                    succeeded: succeeded,
                    failed: failed,
                    chunks: chunks
                )
            )
        }
        return status
    }
}
