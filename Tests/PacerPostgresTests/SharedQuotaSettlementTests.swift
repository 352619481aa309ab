import Foundation
import PacerCore
import PacerPostgres
import PacerTesting
import PostgresNIO
import Testing

@testable import PacerPostgres

/// Issue 20: the shared quota settles as the local one does. On 991d846 each request was
/// charged its estimate (prompt + `max_tokens`) and never settled on its real usage, so four
/// processes on one token limit ran 2.88× slower than one alone; and a request estimated
/// above the whole limit was leased, holding the row (and every later run) for minutes.
@Suite(.timeLimit(.minutes(2))) struct SharedQuotaSettlementTests {
    static let limits = RateLimits(tokensPerMinute: 6_000, learnFromServer: false)

    @Test func aRequestLargerThanTheWholeLimitIsRefusedAtOnceAndHoldsNobody() async throws {
        try await withPostgres { server in
            try await QueueDatabase.withDatabase(try DatabaseURL(server.url)) { database in
                let configuration = PostgresQuota.Configuration(name: "big", limits: Self.limits)
                let quota = PostgresQuota(database: database, configuration: configuration)
                try await quota.prepare()
                do {
                    _ = try await quota.acquire(tokens: 200_100, before: .now + .seconds(10), unlessStopped: nil)
                    Issue.record("a request larger than the whole limit was leased")
                } catch let error as ItemError {
                    #expect(!error.isRetryable)
                    #expect(error.message.contains("more than the whole limit of 6000 tokens per minute"))
                }
                // Another process (the next run) is not held back by it.
                let next = PostgresQuota(database: database, configuration: configuration)
                let reservation = try await next.acquire(
                    tokens: 100,
                    before: .now + .seconds(10),
                    unlessStopped: nil
                )
                next.release(reservation, outcome: .answered(usedTokens: 100, rateLimit: nil))
            }
        }
    }

    @Test func tokensBookedAndNotUsedGoBackToTheRowWithTheNextLease() async throws {
        try await withPostgres { server in
            try await QueueDatabase.withDatabase(try DatabaseURL(server.url)) { database in
                let configuration = PostgresQuota.Configuration(name: "settle", limits: Self.limits)
                let quota = PostgresQuota(database: database, configuration: configuration)
                try await quota.prepare()
                // Estimated at 5,000 tokens (50 s of the limit), used 50.
                let first = try await quota.acquire(tokens: 5_000, before: nil, unlessStopped: nil)
                quota.release(first, outcome: .answered(usedTokens: 50, rateLimit: nil))
                // Charged its estimate for good, the next request would wait about 51 s; settled,
                // the row holds about half a second.
                let started = ContinuousClock.now
                let second = try await quota.acquire(tokens: 100, before: .now + .seconds(20), unlessStopped: nil)
                quota.release(second, outcome: .answered(usedTokens: 100, rateLimit: nil))
                #expect(started.duration(to: .now) < .seconds(10))
            }
        }
    }

    /// Each process also follows what its answers say of the server's bucket, as one process
    /// alone does: an answer saying no tokens are left holds this process's next request
    /// until the server refills (here 50 tokens at 6,000 a minute: half a second), though
    /// the row (pacing requests only) would let it go at once. Four processes on one 6,000
    /// TPM quota drew 81 429s without it and 16 with it (BENCHMARKS.md, issue 20).
    @Test func anAnswerSayingTheServersBucketIsEmptyHoldsTheNextRequest() async throws {
        try await withPostgres { server in
            try await QueueDatabase.withDatabase(try DatabaseURL(server.url)) { database in
                let limits = RateLimits(requestsPerMinute: 6_000)
                let quota = PostgresQuota(database: database, configuration: .init(name: "follow", limits: limits))
                try await quota.prepare()
                let first = try await quota.acquire(tokens: 50, before: nil, unlessStopped: nil)
                let empty = RateLimitSnapshot(requestLimit: 6_000, tokenLimit: 6_000, remainingTokens: 0)
                quota.release(first, outcome: .answered(usedTokens: 50, rateLimit: empty))
                await #expect(throws: DeadlineReached.self) {
                    _ = try await quota.acquire(tokens: 50, before: .now + .milliseconds(150), unlessStopped: nil)
                }
                let later = try await quota.acquire(tokens: 50, before: .now + .seconds(5), unlessStopped: nil)
                quota.release(later, outcome: .answered(usedTokens: 50, rateLimit: nil))
            }
        }
    }

    /// Four processes on one 6,000 TPM quota took 1.76× the wall of one alone (BENCHMARKS.md,
    /// issue 20): a lease booked a request's estimate far ahead, and what the request did not
    /// use came back only with the process's next lease, too late for the slots already
    /// booked. Now a request's unused tokens go back to the row as its answer arrives, and
    /// another process waiting for room hears of it and goes at once.
    @Test func aSettlementLetsAnotherProcessWaitingForRoomGoAtOnce() async throws {
        try await withPostgres { server in
            try await QueueDatabase.withDatabase(try DatabaseURL(server.url)) { database in
                let configuration = PostgresQuota.Configuration(name: "handoff", limits: Self.limits)
                let first = PostgresQuota(database: database, configuration: configuration)
                let second = PostgresQuota(database: database, configuration: configuration)
                try await first.prepare()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await first.run() }
                    group.addTask { try await second.run() }
                    // Estimated at 5,000 tokens (about 51 s of the limit).
                    let big = try await first.acquire(tokens: 5_000, before: nil, unlessStopped: nil)
                    let started = ContinuousClock.now
                    async let waiting = second.acquire(tokens: 100, before: .now + .seconds(20), unlessStopped: nil)
                    try await Task.sleep(for: .milliseconds(300))
                    // It used 50: about half a second of the limit.
                    first.release(big, outcome: .answered(usedTokens: 50, rateLimit: nil))
                    let reservation = try await waiting
                    #expect(started.duration(to: .now) < .seconds(5))
                    second.release(reservation, outcome: .answered(usedTokens: 100, rateLimit: nil))
                    group.cancelAll()
                }
            }
        }
    }

    /// Workers share the quota `default` of their database. Limits one run learned from a
    /// server with 6,000 TPM stayed in the row for good, so a later batch against a server
    /// with no limits was paced at 6,000 TPM (2 items a second): an answer that counted
    /// tokens and carried no limit header now has the row drop what it learned.
    @Test func limitsLearnedFromAnotherServerAreDroppedWhenTheServerAnswersWithoutAny() async throws {
        try await withPostgres { server in
            try await QueueDatabase.withDatabase(try DatabaseURL(server.url)) { database in
                let configuration = PostgresQuota.Configuration(name: "stale")
                let earlier = PostgresQuota(database: database, configuration: configuration)
                try await earlier.prepare()
                let limited = RateLimitSnapshot(tokenLimit: 6_000, remainingTokens: 5_900)
                for _ in 0..<2 {
                    let reservation = try await earlier.acquire(
                        tokens: 100,
                        before: .now + .seconds(10),
                        unlessStopped: nil
                    )
                    earlier.release(reservation, outcome: .answered(usedTokens: 100, rateLimit: limited))
                }
                #expect(try await StoredQuota.read("stale", from: database)?.learnedTokensPerMinute == 6_000)

                // A later run, against a server that sends no limits.
                let later = PostgresQuota(database: database, configuration: configuration)
                let first = try await later.acquire(tokens: 100, before: .now + .seconds(10), unlessStopped: nil)
                later.release(first, outcome: .answered(usedTokens: 100, rateLimit: nil))
                // Two requests of 5,000 tokens: at 6,000 TPM the second would wait about 50 s.
                for _ in 0..<2 {
                    let reservation = try await later.acquire(
                        tokens: 5_000,
                        before: .now + .seconds(5),
                        unlessStopped: nil
                    )
                    later.release(reservation, outcome: .answered(usedTokens: 5_000, rateLimit: nil))
                }
                #expect(try await StoredQuota.read("stale", from: database)?.learnedTokensPerMinute == nil)
            }
        }
    }
}
