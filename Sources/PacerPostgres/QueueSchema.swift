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
/// - `pacer_workers`: one row per worker: its heartbeat (on the database's clock), state, how
///   many times the reaper took its chunks (`reaps`), and its own `--reap-after` (no reaper
///   takes it for gone sooner, whatever the reaper's own setting).
///
/// Version 2 gives each batch a `generation`, new for every push that creates it: a worker
/// serves one push of a batch, and cannot store into a batch dropped and pushed again under
/// the same name. And it counts each worker's `reaps`, returned by every heartbeat, claim and
/// store: a worker that was silent long enough to be reaped learns it lost its chunks.
///
/// Creating them is idempotent (`IF NOT EXISTS`) and serialised by an advisory lock, so that
/// workers starting together do not race.
enum QueueSchema {
    /// The statements of version 1, in order (version 2 adds to them).
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

    /// Version 2: a batch's generation (from a sequence, so that existing batches get one each
    /// and a batch pushed again after a drop gets a new one), a worker's reaps and its own
    /// `--reap-after`.
    static let version2: [PostgresQuery] = [
        "CREATE SEQUENCE IF NOT EXISTS pacer_batch_generations",
        """
        ALTER TABLE pacer_batches
            ADD COLUMN IF NOT EXISTS generation bigint NOT NULL DEFAULT nextval('pacer_batch_generations')
        """,
        "ALTER TABLE pacer_workers ADD COLUMN IF NOT EXISTS reaps integer NOT NULL DEFAULT 0",
        "ALTER TABLE pacer_workers ADD COLUMN IF NOT EXISTS reap_after double precision NOT NULL DEFAULT 0",
    ]

    /// The migration that creates them, or upgrades those of an earlier version in place: one
    /// round trip when they are there at this version.
    static let migration = SchemaMigration(
        name: "queue",
        versionTable: "pacer_schema",
        steps: [statements, version2]
    )
}
