import PostgresNIO

/// The shared response cache's table, created on first use (versioned in
/// `pacer_cache_schema`, serialised by an advisory lock like the queue's).
///
/// `pacer_cache` holds one row per kept answer: its key (the hex SHA-256 the cache computes),
/// the entry's bytes as the cache wrote them, their size and when they were kept, indexed by
/// that time so that the oldest go first. `pacer_cache_evict` deletes the oldest rows while
/// the whole is over a bound, one process at a time.
enum ResponseCacheSchema {
    /// The statements of version 1, in order.
    static let version1: [PostgresQuery] = [
        """
        CREATE TABLE IF NOT EXISTS pacer_cache (
            key text PRIMARY KEY,
            value bytea NOT NULL,
            bytes integer NOT NULL,
            stored_at timestamptz NOT NULL DEFAULT clock_timestamp()
        )
        """,
        "CREATE INDEX IF NOT EXISTS pacer_cache_stored_at ON pacer_cache (stored_at)",
        // Keeps the newest rows whose sizes add up to `p_max_bytes`, deleting the rest; a
        // process that finds another evicting leaves it to that one (returns 0).
        """
        CREATE OR REPLACE FUNCTION pacer_cache_evict(p_max_bytes bigint)
        RETURNS integer LANGUAGE plpgsql AS $$
        DECLARE
            removed integer;
        BEGIN
            IF NOT pg_try_advisory_xact_lock(hashtext('pacer_cache_evict')) THEN
                RETURN 0;
            END IF;
            WITH ranked AS (
                SELECT key, sum(bytes) OVER (ORDER BY stored_at DESC, key DESC) AS newer
                FROM pacer_cache
            )
            DELETE FROM pacer_cache USING ranked
            WHERE pacer_cache.key = ranked.key AND ranked.newer > p_max_bytes;
            GET DIAGNOSTICS removed = ROW_COUNT;
            RETURN removed;
        END $$
        """,
    ]

    /// The migration that creates them: one round trip when they are there at this version.
    static let migration = SchemaMigration(name: "cache", versionTable: "pacer_cache_schema", steps: [version1])
}
