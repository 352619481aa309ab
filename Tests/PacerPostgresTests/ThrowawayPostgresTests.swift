import Foundation
import PacerPostgres
import PacerTesting
import PostgresNIO
import Testing

/// The throwaway PostgreSQL that the queue's tests and `pacer demo` start: it answers, keeps
/// its data across a restart on the same port, and leaves nothing behind.
@Suite struct ThrowawayPostgresTests {
    @Test func startsAnswersAQueryRestartsWithItsDataAndIsRemovedAfterwards() async throws {
        let directory = try await withPostgres { database in
            #expect(database.url == "postgres://postgres@127.0.0.1:\(database.port)/postgres")
            try await withClient(port: database.port) { client in
                try await client.query("CREATE TABLE kept (value integer)")
                try await client.query("INSERT INTO kept VALUES (42)")
            }
            try await database.stop()
            #expect(!FileManager.default.fileExists(atPath: database.directory + "/data/postmaster.pid"))
            try await database.start()
            let values = try await withClient(port: database.port) { client in
                var values: [Int] = []
                for try await value in try await client.query("SELECT value FROM kept").decode(Int.self) {
                    values.append(value)
                }
                return values
            }
            #expect(values == [42])
            return database.directory
        }
        #expect(!FileManager.default.fileExists(atPath: directory))
    }
}

/// Runs `body` with a client of the server on `port`.
func withClient<T: Sendable>(port: Int, _ body: (PostgresClient) async throws -> T) async throws -> T {
    let client = PostgresClient(
        configuration: .init(
            host: "127.0.0.1",
            port: port,
            username: "postgres",
            password: nil,
            database: "postgres",
            tls: .disable
        )
    )
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { await client.run() }
        defer { group.cancelAll() }
        return try await body(client)
    }
}
