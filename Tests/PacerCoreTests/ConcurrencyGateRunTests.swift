import Clocks
import PacerCore
import Testing

/// `--concurrency auto` counts attempts, not admitted items (issue 20): items admitted under a
/// limit that then dropped wait for room before they retry, as new items do.
@Suite struct ConcurrencyGateRunTests {
    static let overloaded = ItemError(kind: .httpStatus, status: 503, message: "busy", isRetryable: true)

    /// Four items start together; each first attempt is a 503 after a second (an overload: the
    /// limit halves each time, 4 → 2 → 1), each retry answers after a second. The four retries
    /// come after one second of backoff: with one slot left only one of them may go then, and
    /// never more than two at once (the limit may grow by one while they run).
    @Test func retriesWaitForRoomUnderALimitThatDropped() async throws {
        let clock = TrackedClock()
        let operation = ScriptedOperation(clock: clock) { _, attempt in
            attempt == 1 ? .fail(Self.overloaded, after: .seconds(1)) : .succeed(after: .seconds(1))
        }
        let runner = BatchRunner(
            configuration: BatchConfiguration(
                maxConcurrent: 4,
                attemptTimeout: nil,
                retry: RetryPolicy(
                    maxRetries: 3,
                    backoff: Backoff(base: .seconds(1), multiplier: 1, cap: .seconds(1), jitter: .none)
                ),
                pacing: nil,
                retryBudget: nil,
                adaptiveConcurrency: .init(initial: 4, minimum: 1, maximum: 4, backoff: 0.5)
            ),
            clock: clock
        )
        let (results, summary) = try await drive(clock) {
            try await runner.collect(Array(0..<4), operation: operation)
        }
        #expect(summary.succeeded == 4)
        #expect(results.allSatisfy { $0.attempts == 2 })
        let retries = (0..<4).map { operation.log.times($0)[1] }.sorted()
        #expect(retries.first == Duration.seconds(2))
        #expect(retries.filter { $0 == Duration.seconds(2) }.count == 1, "retries at \(retries)")
        #expect(retries.last! >= Duration.seconds(3), "retries at \(retries)")
    }
}
