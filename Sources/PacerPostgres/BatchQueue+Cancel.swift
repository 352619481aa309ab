import PostgresNIO

extension BatchQueue {
    /// Stops the batch where it is: every chunk no worker has claimed is marked done without
    /// results, so no worker starts it; the chunks claimed finish as usual (their requests
    /// are in flight). What has no result was not run. One round trip.
    ///
    /// - Returns: The items of the chunks stopped.
    @discardableResult
    public func cancelPending() async throws -> Int {
        try await unlessUnused {
            let rows = try await database.query(
                """
                WITH stopped AS (
                    UPDATE pacer_chunks SET state = 'done'
                    WHERE batch = \(batch) AND state = 'pending'
                    RETURNING last_seq - first_seq + 1 AS items
                )
                SELECT coalesce(sum(items), 0)::bigint FROM stopped
                """
            )
            var items = 0
            for try await count in rows.decode(Int.self) { items = count }
            return items
        } ?? 0
    }

    /// The chunks not done yet (pending, or claimed by a worker): 0 once every item has its
    /// result or was stopped. One round trip.
    public func unfinishedChunks() async throws -> Int {
        try await unlessUnused {
            let rows = try await database.query(
                "SELECT count(*) FROM pacer_chunks WHERE batch = \(batch) AND state <> 'done'"
            )
            var count = 0
            for try await value in rows.decode(Int.self) { count = value }
            return count
        } ?? 0
    }

    /// The batch a worker that serves any batch (`pacer worker --batch '*'`) takes next: one
    /// with chunks no worker holds, oldest first; else one whose chunks are all claimed (a
    /// worker there waits for them, and takes them over if their holder dies); `nil` when
    /// every batch is done. One round trip.
    public static func nextBatchWithWork(in database: QueueDatabase) async throws -> String? {
        do {
            let rows = try await database.query(
                """
                SELECT c.batch FROM pacer_chunks c JOIN pacer_batches b ON b.name = c.batch
                WHERE c.state <> 'done'
                GROUP BY c.batch, b.created_at
                ORDER BY bool_or(c.state = 'pending') DESC, b.created_at, c.batch
                LIMIT 1
                """
            )
            var name: String?
            for try await value in rows.decode(String.self) { name = value }
            return name
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "42P01" {
            return nil
        }
    }
}
