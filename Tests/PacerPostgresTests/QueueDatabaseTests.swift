import Foundation
import PacerCore
import PacerPostgres
import PacerTesting
import PostgresNIO
import Synchronization
import Testing

@testable import PacerPostgres

/// `QueueDatabase.retrying` against a real server: a statement that goes unanswered while the
/// database answers new connections is abandoned and tried again (postgres-nio can hand out
/// a dead connection after a restart); without `abandonAfter` it is waited for.
@Suite(.timeLimit(.minutes(2))) struct QueueDatabaseTests {
    @Test func anAttemptUnansweredWhileTheDatabaseAnswersIsAbandonedAndTriedAgain() async throws {
        try await withPostgres { server in
            try await QueueDatabase.withDatabase(try DatabaseURL(server.url)) { database in
                let attempts = Atomic<Int>(0)
                let outages = Mutex<[String]>([])
                let stuck = Latch()
                defer { stuck.open() }
                let started = ContinuousClock.now
                let value = try await database.retrying(
                    "read a value",
                    abandonAfter: .seconds(4),
                    onOutage: { outage in outages.withLock { $0.append(outage.description) } }
                ) {
                    if attempts.add(1, ordering: .relaxed).newValue == 1 {
                        // Like a statement on a dead connection: no answer, and cancelling it
                        // does not end the wait.
                        await Task.detached { await stuck.wait() }.value
                        return -1
                    }
                    var value = 0
                    for try await row in try await database.query("SELECT 42").decode(Int.self) { value = row }
                    return value
                }
                #expect(value == 42)
                #expect(attempts.load(ordering: .relaxed) == 2)
                let waited = started.duration(to: .now)
                #expect(waited >= .seconds(4) && waited < .seconds(30), "\(waited)")
                let said = outages.withLock { $0 }
                #expect(said.contains { $0.contains("no answer in 4 s on a connection") }, "\(said)")
            }
        }
    }

    /// The shared quota's leases and announcements go through `abandoning`: a lease that never
    /// answers would hold every request of the process.
    @Test func oneAttemptUnansweredWhileTheDatabaseAnswersIsAbandoned() async throws {
        try await withPostgres { server in
            try await QueueDatabase.withDatabase(try DatabaseURL(server.url)) { database in
                let stuck = Latch()
                defer { stuck.open() }
                let started = ContinuousClock.now
                do {
                    _ = try await database.abandoning(after: .seconds(4), "lease") {
                        await Task.detached { await stuck.wait() }.value
                        return 1
                    }
                    Issue.record("a statement without an answer was waited for")
                } catch {
                    #expect(error is DatabaseFailure.Unanswered, "\(error)")
                }
                let waited = started.duration(to: .now)
                #expect(waited >= .seconds(4) && waited < .seconds(30), "\(waited)")
                // An answered one is returned as it is.
                let value = try await database.abandoning(after: .seconds(4), "read") {
                    var value = 0
                    for try await row in try await database.query("SELECT 42").decode(Int.self) { value = row }
                    return value
                }
                #expect(value == 42)
            }
        }
    }
}
