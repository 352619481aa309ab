import Foundation
import PacerCore
import PacerPostgres
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

    @Test func aProcessThatStartsWhileTheBreakerIsOpenHoldsFromItsFirstLease() async throws {
        try await withPostgres { server in
            try await QueueDatabase.withDatabase(try DatabaseURL(server.url)) { database in
                let configuration = PostgresQuota.Configuration(
                    name: "breaker",
                    limits: RateLimits(requestsPerMinute: 60_000, learnFromServer: false)
                )
                let breaker = CircuitBreaker(threshold: 3, cooldown: 30, maxCooldown: 30)
                let finder = PostgresQuota(database: database, configuration: configuration, breaker: breaker)
                try await finder.prepare()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await finder.run() }
                    defer { group.cancelAll() }
                    for _ in 0..<3 {
                        let reservation = try await finder.acquire(tokens: 0, before: nil, unlessStopped: nil)
                        finder.release(reservation, outcome: .connectionFailed)
                    }
                    #expect(finder.breakerIsOpen)
                    let stored = try await eventually(within: .seconds(10)) {
                        var open = false
                        let rows = try await database.query(
                            "SELECT breaker_until > extract(epoch FROM clock_timestamp()) FROM pacer_quotas WHERE name = 'breaker'"
                        )
                        for try await value in rows.decode(Bool.self) { open = value }
                        return open
                    }
                    #expect(stored, "the opening is kept in the row")
                    // Started after the announcement: it never heard it, and learns it from
                    // its first lease, so its first request waits instead of going out.
                    let joiner = PostgresQuota(database: database, configuration: configuration, breaker: breaker)
                    let sent = try? await joiner.acquire(tokens: 0, before: .now + .seconds(1), unlessStopped: nil)
                    #expect(sent == nil, "the first request waits for the cooldown")
                    #expect(joiner.breakerIsOpen)
                }
            }
        }
    }

    @Test func aQuotaTableOfTheFirstVersionIsUpgradedKeepingItsRows() async throws {
        try await withPostgres { server in
            try await QueueDatabase.withDatabase(try DatabaseURL(server.url)) { database in
                let first = SchemaMigration(
                    name: "quota",
                    versionTable: "pacer_quota_schema",
                    steps: [QuotaSchema.version1]
                )
                try await first.prepare(database)
                // Version 1's lease function, by its signature and columns (the body does not matter).
                try await database.query(
                    """
                    CREATE FUNCTION pacer_quota_lease(
                        p_name text, p_requests bigint, p_tokens bigint, p_rpm double precision,
                        p_tpm double precision, p_learned_rpm double precision, p_learned_tpm double precision,
                        p_unlimited boolean, p_headroom double precision, p_probe_seconds double precision,
                        p_horizon double precision
                    ) RETURNS TABLE (
                        granted integer, granted_tokens bigint, window_start double precision, spacing double precision,
                        db_now double precision, paused_until double precision, rpm double precision, tpm double precision
                    ) LANGUAGE sql AS $$ SELECT 0, 0::bigint, 0.0::float8, 0.0::float8, 0.0::float8, 0.0::float8,
                        NULL::float8, NULL::float8 $$
                    """
                )
                try await database.query(
                    """
                    CREATE FUNCTION pacer_quota_pause(p_name text, p_seconds double precision)
                    RETURNS double precision LANGUAGE sql AS $$ SELECT 0.0::float8 $$
                    """
                )
                try await database.query("INSERT INTO pacer_quotas (name, learned_rpm) VALUES ('kept', 600)")
                let quota = PostgresQuota(
                    database: database,
                    configuration: .init(name: "kept", limits: RateLimits(learnFromServer: true))
                )
                try await quota.prepare()
                var rows: [(Double?, Double)] = []
                for try await row in try await database.query(
                    "SELECT learned_rpm, breaker_until FROM pacer_quotas WHERE name = 'kept'"
                ).decode((Double?, Double).self) {
                    rows.append(row)
                }
                #expect(rows.count == 1 && rows.first?.0 == 600 && rows.first?.1 == 0)
                var version = 0
                for try await value in try await database.query("SELECT max(version) FROM pacer_quota_schema")
                    .decode(Int.self)
                {
                    version = value
                }
                #expect(version == QuotaSchema.migration.version && version == 4)
                // Version 2's lease, as a process of that version still running calls it (no
                // settlement), answers through version 3's.
                var granted: [Int] = []
                for try await value in try await database.query(
                    """
                    SELECT granted FROM pacer_quota_lease('kept', 1::bigint, 0::bigint, NULL::float8, NULL::float8,
                        NULL::float8, NULL::float8, false, 0.02::float8, 30.0::float8, 60.0::float8)
                    """
                ).decode(Int.self) {
                    granted.append(value)
                }
                #expect(granted == [1])
                // The new lease function answers, with the limit the row had learned.
                let reservation = try await quota.acquire(tokens: 0, before: nil, unlessStopped: nil)
                quota.release(reservation, outcome: .answered(usedTokens: nil, rateLimit: nil))
                #expect(quota.leases >= 1)
                // Version 1's pause, as a process of that version still running calls it, is
                // the new one's: it holds the row and leaves the breaker alone.
                for try await _ in try await database.query("SELECT pacer_quota_pause('kept', 30)") {}
                var held: [(Bool, Double)] = []
                for try await row in try await database.query(
                    "SELECT paused_until > extract(epoch FROM clock_timestamp()), breaker_until FROM pacer_quotas WHERE name = 'kept'"
                ).decode((Bool, Double).self) {
                    held.append(row)
                }
                #expect(held.count == 1 && held.first?.0 == true && held.first?.1 == 0)
            }
        }
    }

    @Test func aPauseOneProcessWasAskedForHoldsAnotherOnTheQuota() async throws {
        try await withPostgres { server in
            try await QueueDatabase.withDatabase(try DatabaseURL(server.url)) { database in
                let configuration = PostgresQuota.Configuration(
                    name: "paused",
                    limits: RateLimits(requestsPerMinute: 60_000, learnFromServer: false)
                )
                let asked = PostgresQuota(database: database, configuration: configuration)
                try await asked.prepare()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await asked.run() }
                    defer { group.cancelAll() }
                    #expect(asked.pause(for: .seconds(30)))
                    let stored = try await eventually(within: .seconds(10)) {
                        var held = false
                        let rows = try await database.query(
                            "SELECT paused_until > extract(epoch FROM clock_timestamp()) + 20, breaker_until = 0 FROM pacer_quotas WHERE name = 'paused'"
                        )
                        for try await (paused, noBreaker) in rows.decode((Bool, Bool).self) {
                            held = paused && noBreaker
                        }
                        return held
                    }
                    #expect(stored, "the pause is kept in the row, and only the pause")
                    // Another process's first lease starts after the pause.
                    let other = PostgresQuota(database: database, configuration: configuration)
                    let sent = try? await other.acquire(tokens: 0, before: .now + .seconds(1), unlessStopped: nil)
                    #expect(sent == nil, "the other process's first request waits for the pause")
                    #expect(!other.breakerIsOpen)
                }
            }
        }
    }
}
