@_exported import PacerPostgres

/// Runs `body` against a throwaway PostgreSQL server of its own (a new cluster on a free
/// loopback port), then stops the server and removes its folder.
///
/// ```swift
/// try await withPostgres { database in
///     // pass database.url to `pacer queue push --db`; database.stop() and start() restart it
/// }
/// ```
public func withPostgres<T: Sendable>(_ body: (ThrowawayPostgres) async throws -> T) async throws -> T {
    try await withThrowawayPostgres(body)
}
