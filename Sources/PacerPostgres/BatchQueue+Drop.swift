import PostgresNIO

extension BatchQueue {
    /// Deletes the batch: its items, chunks, results and workers' rows.
    ///
    /// Unless `force`, nothing is deleted while a worker of the batch is running (its
    /// heartbeat younger than `liveWithin`): it would go on sending requests whose results have
    /// nowhere to go.
    ///
    /// The batch's row is locked first, in a statement of its own: a worker's store in progress
    /// (which holds the row `FOR KEY SHARE`) ends before the delete looks for results, so its
    /// results are deleted too; a store that comes after finds no batch and stores nothing.
    /// Two round trips plus the transaction's.
    ///
    /// - Returns: What was deleted, or the running workers that kept it.
    public func drop(force: Bool, liveWithin: Duration = .seconds(30)) async throws -> DropOutcome {
        try await unlessUnused {
            try await database.transaction(statements: 2) { connection in
                try await connection.query(
                    "SELECT 1 FROM pacer_batches WHERE name = \(batch) FOR UPDATE",
                    logger: database.logger
                )
                return try await delete(force: force, liveWithin: liveWithin, on: connection)
            }
        } ?? DropOutcome(runningWorkers: 0, dropped: false, items: 0, results: 0)
    }

    /// The delete itself, in one statement (data-modifying CTEs).
    private func delete(
        force: Bool,
        liveWithin: Duration,
        on connection: PostgresConnection
    ) async throws -> DropOutcome {
        let rows = try await connection.query(
            """
            WITH live AS (
                SELECT count(*) AS n FROM pacer_workers
                WHERE batch = \(batch) AND state = 'running'
                    AND heartbeat_at > now() - make_interval(secs => \(liveWithin.components.seconds))
            ), go AS (
                SELECT \(force) OR n = 0 AS ok FROM live
            ), results AS (
                DELETE FROM pacer_results WHERE batch = \(batch) AND (SELECT ok FROM go) RETURNING 1
            ), chunks AS (
                DELETE FROM pacer_chunks WHERE batch = \(batch) AND (SELECT ok FROM go) RETURNING 1
            ), items AS (
                DELETE FROM pacer_items WHERE batch = \(batch) AND (SELECT ok FROM go) RETURNING 1
            ), workers AS (
                DELETE FROM pacer_workers WHERE batch = \(batch) AND (SELECT ok FROM go) RETURNING 1
            ), batches AS (
                DELETE FROM pacer_batches WHERE name = \(batch) AND (SELECT ok FROM go) RETURNING 1
            )
            SELECT (SELECT n FROM live), (SELECT count(*) FROM batches), (SELECT count(*) FROM items),
                (SELECT count(*) FROM results)
            """,
            logger: database.logger
        )
        var outcome = DropOutcome(runningWorkers: 0, dropped: false, items: 0, results: 0)
        for try await (live, batches, items, results) in rows.decode((Int, Int, Int, Int).self) {
            outcome = DropOutcome(runningWorkers: live, dropped: batches > 0, items: items, results: results)
        }
        return outcome
    }
}

/// What ``BatchQueue/drop(force:liveWithin:)`` did.
public struct DropOutcome: Sendable, Hashable {
    /// The batch's workers running when it was asked (heartbeat within the limit).
    public var runningWorkers: Int
    /// Whether the batch was deleted (`false`: there was none, or workers kept it).
    public var dropped: Bool
    /// Its items deleted.
    public var items: Int
    /// Its results deleted.
    public var results: Int
}
