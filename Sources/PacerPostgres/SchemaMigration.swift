import PostgresNIO

/// A versioned set of statements that creates one part of Pacer's schema (the queue's
/// tables, the shared quota's) on first use.
///
/// The version applied is kept in a table of its own (`versionTable`). Processes starting
/// together serialise on a transaction-scoped advisory lock, so one creates and the others
/// wait and find it done; the whole creation is one transaction, so a process killed halfway
/// leaves nothing half made. When the version is already there, ``prepare(_:)`` costs one
/// round trip.
struct SchemaMigration: Sendable {
    /// What the schema is for, in messages ("queue", "quota").
    var name: String
    /// The table that records the versions applied (created by the migration).
    var versionTable: String
    /// The statements of each version, in order: `steps[0]` creates version 1, `steps[1]`
    /// takes version 1 to 2, and so on.
    var steps: [[PostgresQuery]]

    /// The version the steps lead to.
    var version: Int { steps.count }

    /// Creates the schema unless it is there at this version.
    ///
    /// - Throws: ``QueueError`` when the database holds a newer version than this Pacer
    ///   knows; a database error otherwise.
    func prepare(_ database: QueueDatabase) async throws {
        if try await installedVersion(database) == version { return }
        try await database.transaction(statements: steps.joined().count + 4) { connection in
            try await connection.query(
                PostgresQuery(unsafeSQL: "SELECT pg_advisory_xact_lock(hashtext('\(versionTable)'))"),
                logger: database.logger
            )
            try await connection.query(
                PostgresQuery(
                    unsafeSQL:
                        "CREATE TABLE IF NOT EXISTS \(versionTable) (version integer NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
                ),
                logger: database.logger
            )
            var found: Int?
            for try await value in try await connection.query(
                PostgresQuery(unsafeSQL: "SELECT max(version) FROM \(versionTable)"),
                logger: database.logger
            ).decode(Int?.self) {
                found = value
            }
            try check(found)
            for step in steps[(found ?? 0)...] {
                for statement in step {
                    try await connection.query(statement, logger: database.logger)
                }
            }
            guard found != version else { return }
            try await connection.query(
                PostgresQuery(unsafeSQL: "INSERT INTO \(versionTable) (version) VALUES (\(version))"),
                logger: database.logger
            )
        }
    }

    /// The version in the database; `nil` when there is none yet.
    private func installedVersion(_ database: QueueDatabase) async throws -> Int? {
        do {
            var found: Int?
            for try await value in try await database.query(
                PostgresQuery(unsafeSQL: "SELECT max(version) FROM \(versionTable)")
            ).decode(Int?.self) {
                found = value
            }
            try check(found)
            return found
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "42P01" {
            // undefined_table: a database this part of Pacer has not used yet.
            return nil
        }
    }

    private func check(_ found: Int?) throws {
        if let found, found > version {
            throw QueueError.newerSchema(name, found: found, known: version)
        }
    }
}
