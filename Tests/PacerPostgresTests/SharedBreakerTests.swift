import Foundation
import PacerCore
import PacerTesting
import PostgresNIO
import Testing

@testable import PacerPostgres

/// The circuit breaker of a shared quota: when one process's breaker opens (the API cannot be
/// reached), every process on the same quota hears of it by `NOTIFY` and holds too, so that a
/// server that is down is found once, not once per process.
@Suite(.timeLimit(.minutes(2))) struct SharedBreakerTests {
    @Test func oneProcessFindingTheServerDownHoldsTheOthers() async throws {
        try await withPostgres { server in
            try await QueueDatabase.withDatabase(try DatabaseURL(server.url)) { database in
                let configuration = PostgresQuota.Configuration(
                    name: "breaker",
                    limits: RateLimits(requestsPerMinute: 60_000, learnFromServer: false)
                )
                let breaker = CircuitBreaker(threshold: 3, cooldown: 10, maxCooldown: 10)
                let finder = PostgresQuota(database: database, configuration: configuration, breaker: breaker)
                let other = PostgresQuota(database: database, configuration: configuration, breaker: breaker)
                let elsewhere = PostgresQuota(
                    database: database,
                    configuration: .init(name: "another", limits: configuration.limits),
                    breaker: breaker
                )
                try await finder.prepare()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for quota in [finder, other, elsewhere] { group.addTask { try await quota.run() } }
                    defer { group.cancelAll() }
                    // A notification sent before a LISTEN is lost: wait until all three listen.
                    let listening = try await eventually(within: .seconds(30)) {
                        var count = 0
                        let rows = try await database.query(
                            "SELECT count(*) FROM pg_stat_activity WHERE query ILIKE 'LISTEN%pacer_quota%'"
                        )
                        for try await value in rows.decode(Int.self) { count = value }
                        return count == 3
                    }
                    #expect(listening)
                    for _ in 0..<3 {
                        let reservation = try await finder.acquire(tokens: 0, before: nil, unlessStopped: nil)
                        finder.release(reservation, outcome: .connectionFailed)
                    }
                    #expect(finder.breakerIsOpen)
                    let heard = try await eventually(within: .seconds(10)) { other.breakerIsOpen }
                    #expect(heard, "the other process on the quota holds")
                    #expect(!elsewhere.breakerIsOpen, "a process on another quota does not")
                }
            }
        }
    }
}
