import PostgresNIO

/// The queue's tables, created on first use and versioned in `pacer_schema`.
///
/// - `pacer_batches`: one row per batch: its item count and chunk size.
/// - `pacer_items`: the pushed lines (`custom_id`, `url`, `body`), loaded once by COPY and
///   never updated, so they never bloat.
/// - `pacer_chunks`: the unit of claiming, a range of items: `pending`, `claimed` by a
///   worker, or `done`. Small (one row per chunk, not per item), and the only table whose
///   rows change; its partial index holds only pending chunks, so a claim does not walk
///   past the done ones.
/// - `pacer_results`: one row per item, inserted with `ON CONFLICT DO NOTHING`: whatever
///   happens, an item's result is stored once; the first stored wins.
/// - `pacer_workers`: one row per worker: its heartbeat (on the database's clock) and state.
///
/// Creating them is idempotent (`IF NOT EXISTS`) and serialised by an advisory lock, so that
/// workers starting together do not race.
enum QueueSchema {
    /// The version these statements create.
    static let version = 1

    /// The statements of version 1, in order.
    static let statements: [PostgresQuery] = [
        """
        CREATE TABLE IF NOT EXISTS pacer_batches (
            name text PRIMARY KEY,
            items bigint NOT NULL DEFAULT 0,
            chunks bigint NOT NULL DEFAULT 0,
            created_at timestamptz NOT NULL DEFAULT now()
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS pacer_items (
            batch text NOT NULL,
            seq bigint NOT NULL,
            custom_id text NOT NULL,
            url text NOT NULL,
            body text NOT NULL,
            PRIMARY KEY (batch, seq)
        )
        """,
        "CREATE UNIQUE INDEX IF NOT EXISTS pacer_items_custom_id ON pacer_items (batch, custom_id)",
        """
        CREATE TABLE IF NOT EXISTS pacer_chunks (
            batch text NOT NULL,
            chunk bigint NOT NULL,
            first_seq bigint NOT NULL,
            last_seq bigint NOT NULL,
            state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'claimed', 'done')),
            worker uuid,
            claimed_at timestamptz,
            claims integer NOT NULL DEFAULT 0,
            PRIMARY KEY (batch, chunk)
        ) WITH (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.02)
        """,
        "CREATE INDEX IF NOT EXISTS pacer_chunks_pending ON pacer_chunks (batch, chunk) WHERE state = 'pending'",
        "CREATE INDEX IF NOT EXISTS pacer_chunks_claimed ON pacer_chunks (batch, worker) WHERE state = 'claimed'",
        """
        CREATE TABLE IF NOT EXISTS pacer_results (
            batch text NOT NULL,
            seq bigint NOT NULL,
            chunk bigint NOT NULL,
            success boolean NOT NULL,
            line text NOT NULL,
            attempts integer NOT NULL,
            worker uuid NOT NULL,
            stored_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (batch, seq)
        )
        """,
        "CREATE INDEX IF NOT EXISTS pacer_results_failed ON pacer_results (batch, chunk) WHERE NOT success",
        """
        CREATE TABLE IF NOT EXISTS pacer_workers (
            id uuid PRIMARY KEY,
            batch text NOT NULL,
            host text NOT NULL,
            pid integer NOT NULL,
            state text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'stopped', 'lost')),
            started_at timestamptz NOT NULL DEFAULT now(),
            heartbeat_at timestamptz NOT NULL DEFAULT now(),
            succeeded bigint NOT NULL DEFAULT 0,
            failed bigint NOT NULL DEFAULT 0
        ) WITH (fillfactor = 50)
        """,
        "CREATE INDEX IF NOT EXISTS pacer_workers_batch ON pacer_workers (batch, state)",
    ]

    /// Creates the tables unless they are there at this version (one round trip when they are).
    ///
    /// - Throws: ``QueueError`` when the database holds a newer schema than this Pacer knows.
    static func prepare(_ database: QueueDatabase) async throws {
        if try await installedVersion(database) == version { return }
        try await database.transaction(statements: statements.count + 4) { connection in
            // Workers starting together: one creates, the others wait here and find it done.
            try await connection.query(
                "SELECT pg_advisory_xact_lock(hashtext('pacer_schema'))",
                logger: database.logger
            )
            try await connection.query(
                "CREATE TABLE IF NOT EXISTS pacer_schema (version integer NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
                logger: database.logger
            )
            var found: Int?
            for try await value in try await connection.query(
                "SELECT max(version) FROM pacer_schema",
                logger: database.logger
            ).decode(Int?.self) {
                found = value
            }
            if let found, found > version {
                throw QueueError.newerSchema(found: found, known: version)
            }
            guard found != version else { return }
            for statement in statements {
                try await connection.query(statement, logger: database.logger)
            }
            try await connection.query(
                "INSERT INTO pacer_schema (version) VALUES (\(version))",
                logger: database.logger
            )
        }
    }

    /// The schema version in the database; `nil` when there is none yet.
    private static func installedVersion(_ database: QueueDatabase) async throws -> Int? {
        do {
            var version: Int?
            for try await value in try await database.query("SELECT max(version) FROM pacer_schema").decode(Int?.self) {
                version = value
            }
            if let version, version > Self.version { throw QueueError.newerSchema(found: version, known: Self.version) }
            return version
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "42P01" {
            // undefined_table: a database Pacer has not used yet.
            return nil
        }
    }
}
