import Foundation

/// A PostgreSQL server of its own on a free loopback port, in a temporary folder that is
/// removed afterwards: for tests and `pacer demo`, the way ``withThrowawayPostgres(_:)`` and
/// the simulator's `withSimulator` start one.
///
/// It runs the installed PostgreSQL's `initdb` and `pg_ctl` (Debian's `postgresql` package puts
/// them in `/usr/lib/postgresql/VERSION/bin`). PostgreSQL refuses to run as root, so as root
/// they run as the `postgres` user (`runuser -u postgres --`), which then owns the folder.
/// Authentication is `trust` on loopback, the socket is in the folder, and durability is off
/// (`fsync`, `synchronous_commit`, `full_page_writes`): a crash loses this server anyway.
///
/// ```swift
/// try await withThrowawayPostgres { database in
///     // connect to database.url: postgres://postgres@127.0.0.1:PORT/postgres
///     try await database.stop()   // and start() again, on the same port, with the same data
/// }
/// ```
public final class ThrowawayPostgres: Sendable {
    /// The temporary folder: the data directory (`data`), the Unix socket and the server's log.
    public let directory: String
    /// The loopback TCP port the server listens on (the same after a restart).
    public let port: Int
    /// The programs of the PostgreSQL installation in use.
    let programs: PostgresPrograms

    /// The URL to connect with: `postgres://postgres@127.0.0.1:PORT/postgres` (no password:
    /// loopback connections are trusted).
    public var url: String { "postgres://postgres@127.0.0.1:\(port)/postgres" }

    /// The server's log file, for a test that wants to show why the server stopped.
    public var logFile: String { directory + "/server.log" }

    var dataDirectory: String { directory + "/data" }

    private init(directory: String, port: Int, programs: PostgresPrograms) {
        self.directory = directory
        self.port = port
        self.programs = programs
    }

    /// Creates a database cluster in a new temporary folder and starts a server on it.
    ///
    /// - Throws: ``ThrowawayPostgresError`` when PostgreSQL is not installed, or `initdb` or
    ///   the server fails (with the end of its output).
    public static func start() async throws -> ThrowawayPostgres {
        let programs = try PostgresPrograms.find()
        let directory = try makeTemporaryDirectory()
        do {
            try programs.prepare(directory: directory)
            try await programs.run(
                "initdb",
                ["-D", directory + "/data", "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"],
                in: directory
            )
            try appendSettings(to: directory + "/data/postgresql.conf", socketDirectory: directory)
            // A port found free may be taken before the server binds it: try another.
            var lastError: (any Error)?
            for _ in 0..<3 {
                let server = ThrowawayPostgres(directory: directory, port: try freeLoopbackPort(), programs: programs)
                do {
                    try await server.start()
                    return server
                } catch {
                    lastError = error
                }
            }
            throw lastError ?? ThrowawayPostgresError("the server did not start")
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
    }

    /// Starts the server (again), on ``port``, and returns once it accepts connections.
    public func start() async throws {
        try await programs.run(
            "pg_ctl",
            ["-D", dataDirectory, "-l", logFile, "-w", "-t", "60", "-o", "-p \(port)", "start"],
            in: directory,
            log: logFile
        )
    }

    /// Stops the server (fast: open connections are cut), keeping its data for ``start()-swift.method``.
    public func stop() async throws {
        try await programs.run("pg_ctl", ["-D", dataDirectory, "-m", "fast", "-w", "-t", "60", "stop"], in: directory)
    }

    /// Stops the server if it runs and removes its folder.
    public func remove() async {
        if FileManager.default.fileExists(atPath: dataDirectory + "/postmaster.pid") {
            try? await programs.run(
                "pg_ctl",
                ["-D", dataDirectory, "-m", "immediate", "-w", "-t", "30", "stop"],
                in: directory
            )
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    private static func makeTemporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("pacer-postgres-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Settings for a server that only tests talk to: loopback and a socket in its folder,
    /// little memory, and no durability.
    private static func appendSettings(to file: String, socketDirectory: String) throws {
        let settings = """

            # pacer: a throwaway server
            listen_addresses = '127.0.0.1'
            unix_socket_directories = '\(socketDirectory)'
            fsync = off
            synchronous_commit = off
            full_page_writes = off
            shared_buffers = 32MB
            max_connections = 60
            """
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data((settings + "\n").utf8))
    }
}

/// Runs `body` against a new ``ThrowawayPostgres``, then stops the server and removes its
/// folder, whether `body` returns or throws.
///
/// ```swift
/// try await withThrowawayPostgres { database in
///     print(database.url)
/// }
/// ```
public func withThrowawayPostgres<T: Sendable>(_ body: (ThrowawayPostgres) async throws -> T) async throws -> T {
    try await ThrowawayPostgres.start().removed(after: body)
}

extension ThrowawayPostgres {
    /// Runs `body` with this server, then stops it and removes its folder, whether `body`
    /// returns or throws.
    public func removed<T: Sendable>(after body: (ThrowawayPostgres) async throws -> T) async throws -> T {
        do {
            let result = try await body(self)
            await remove()
            return result
        } catch {
            await remove()
            throw error
        }
    }
}

/// PostgreSQL could not be found, set up or started; the message says what to do.
public struct ThrowawayPostgresError: Error, CustomStringConvertible, Sendable {
    /// What went wrong.
    public var message: String

    /// Creates the error.
    public init(_ message: String) { self.message = message }

    /// The message.
    public var description: String { message }
}
