import Foundation
import PacerCore
import PacerPostgres
import PacerTesting
import Testing

/// A response cache's entries in PostgreSQL (`--cache postgres://…`): what one process keeps
/// another reads, the table stays near its bound with the oldest out first, and a database
/// that goes away is a miss, never an error or a long wait.
@Suite(.timeLimit(.minutes(2))) struct PostgresResponseStorageTests {
    func value(_ index: Int, size: Int = 1000) -> [UInt8] {
        Array("entry \(index) ".utf8) + [UInt8](repeating: 0x78, count: size)
    }

    @Test func whatOneProcessKeepsAnotherReads() async throws {
        try await withPostgres { server in
            let url = try DatabaseURL(server.url)
            try await QueueDatabase.withDatabase(url) { database in
                let storage = PostgresResponseStorage(database: database)
                try await storage.prepare()
                #expect(await storage.value(for: "k1") == nil)
                #expect(await storage.store(value(1), for: "k1") == 0)
                // The same key again replaces it.
                #expect(await storage.store(value(2), for: "k1") == 0)
            }
            // Another process, its own connections.
            try await QueueDatabase.withDatabase(url) { database in
                let other = PostgresResponseStorage(database: database)
                try await other.prepare()
                #expect(await other.value(for: "k1") == value(2))
                #expect(await other.bytes == Int64(value(2).count))
                #expect(other.failures == 0)
            }
        }
    }

    @Test func theTableStaysNearItsBoundOldestOut() async throws {
        try await withPostgres { server in
            try await QueueDatabase.withDatabase(try DatabaseURL(server.url)) { database in
                let bound: Int64 = 64 * 1024
                let storage = PostgresResponseStorage(database: database, maxBytes: bound)
                try await storage.prepare()
                var evicted = 0
                for index in 0..<300 {
                    evicted += await storage.store(value(index), for: "k\(index)") ?? 0
                    // Evicted after each sixteenth of the bound stored: never much past it.
                    #expect(await storage.bytes <= bound + bound / 16 + 1100)
                }
                #expect(evicted > 200)
                #expect(await storage.value(for: "k0") == nil, "the oldest went first")
                #expect(await storage.value(for: "k299") == value(299), "the newest are kept")
            }
        }
    }

    @Test func aDatabaseThatGoesAwayIsAMissAtOnce() async throws {
        try await withPostgres { server in
            try await QueueDatabase.withDatabase(try DatabaseURL(server.url)) { database in
                let storage = PostgresResponseStorage(database: database)
                try await storage.prepare()
                _ = await storage.store(value(1), for: "k1")
                try await server.stop()
                // The first lookup fails (or gives up after 5 s); the next ones are misses at once.
                #expect(await storage.value(for: "k1") == nil)
                let started = ContinuousClock.now
                for _ in 0..<100 { #expect(await storage.value(for: "k1") == nil) }
                #expect(await storage.store(value(2), for: "k2") == nil)
                #expect(ContinuousClock.now - started < .seconds(1))
                // Each of them is counted, for the run's closing line.
                #expect(storage.failures == 102)
                try await server.start()
            }
        }
    }
}
