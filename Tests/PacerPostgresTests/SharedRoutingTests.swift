import Foundation
import PacerCore
import PacerPostgres
import PacerTesting
import Testing

/// A shared quota as one deployment of a routed run: the router ranks it by its row, and it
/// books a request only when the row has a slot for it now, so that a request never waits on
/// a deployment whose limit other processes booked while another deployment has room.
@Suite(.timeLimit(.minutes(2))) struct SharedRoutingTests {
    @Test func aDeploymentWhoseLimitOthersBookedHandsTheRequestBackAndRanksLater() async throws {
        try await withPostgres { server in
            try await QueueDatabase.withDatabase(try DatabaseURL(server.url)) { database in
                // One request every 2 s, one at a time.
                let configuration = PostgresQuota.Configuration(
                    name: "org/east",
                    limits: RateLimits(requestsPerMinute: 30, learnFromServer: false)
                )
                let other = PostgresQuota(database: database, configuration: configuration, retryBudget: nil)
                let this = PostgresQuota(database: database, configuration: configuration, retryBudget: nil)
                try await other.prepare()
                // Another process sends first and takes the slot there is.
                let theirs = try #require(try await other.acquireIfAdmitted(tokens: 10))
                // This process has no lease yet: a round trip away, so it ranks as now.
                #expect(this.earliestStart(tokens: 10) == .zero)
                // Its lease starts at the next slot, seconds ahead: the request goes back.
                #expect(try await this.acquireIfAdmitted(tokens: 10) == nil)
                let start = try #require(this.earliestStart(tokens: 10))
                #expect(start > .seconds(1) && start <= .seconds(2.1), "\(start)")
                other.release(theirs, outcome: .notSent)
                // The slot is kept for the next look, not dropped: one lease each.
                #expect(this.leases == 1)
                #expect(other.leases == 1)
            }
        }
    }

    @Test func aSharedDeploymentAdmitsAtOnceWhenItsRowHasRoom() async throws {
        try await withPostgres { server in
            try await QueueDatabase.withDatabase(try DatabaseURL(server.url)) { database in
                let quota = PostgresQuota(
                    database: database,
                    configuration: .init(
                        name: "org/west",
                        limits: RateLimits(requestsPerMinute: 6_000, tokensPerMinute: 1_000, learnFromServer: false)
                    ),
                    retryBudget: nil
                )
                try await quota.prepare()
                let reservation = try #require(try await quota.acquireIfAdmitted(tokens: 100))
                quota.release(reservation, outcome: .answered(usedTokens: 100, rateLimit: nil))
                // Larger than the whole token limit: never, and refused as such.
                #expect(quota.earliestStart(tokens: 5_000) == nil)
                await #expect(throws: ItemError.self) { try await quota.acquireIfAdmitted(tokens: 5_000) }
            }
        }
    }
}
