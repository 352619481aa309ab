import Clocks
import PacerCore
import Synchronization
import Testing

/// The engine through an outage, a graceful stop, and a quota shared by two batches, on the
/// tracked test clock.
@Suite struct BatchRunnerStopAndOutageTests {
    static let refused = ItemError(kind: .network, message: "connection refused", isRetryable: true)

    /// The server refuses connections for 40 s, long enough for the breaker to open, and then
    /// serves. Paced at 30 RPM with two workers, every item must succeed soon after it comes
    /// back (the breaker's half-open probe finds it). Before, the probe was spent on a pacing
    /// wait and the batch hung for good.
    @Test(.timeLimit(.minutes(1)))
    func aBatchFinishesSoonAfterAnOutageThatOpenedTheBreaker() async throws {
        let clock = TrackedClock()
        let outageEnds = clock.now.advanced(by: .seconds(40))
        let operation = ScriptedOperation(clock: clock) { [clock] _, _ in
            clock.now < outageEnds ? .fail(Self.refused, after: .milliseconds(1)) : .succeed(after: .milliseconds(200))
        }
        let runner = BatchRunner(
            configuration: BatchConfiguration(
                maxConcurrent: 2,
                attemptTimeout: .seconds(10),
                retry: RetryPolicy(maxRetries: 5, backoff: Backoff(base: .seconds(1), jitter: .none)),
                pacing: RateLimits(requestsPerMinute: 30, learnFromServer: false),
                retryBudget: RetryBudget()
            ),
            clock: clock
        )
        let (results, summary) = try await drive(clock) { try await runner.collect(Array(0..<6), operation: operation) }
        let errors = results.map { $0.error?.description ?? "ok" }
        #expect(results.allSatisfy { $0.isSuccess }, "\(errors)")
        #expect(summary.succeeded == 6)
        // The breaker's longest cooldown is 30 s; then the six are paced at one per ~2 s.
        let last = (0..<6).compactMap { operation.log.times($0).last }.max() ?? .zero
        #expect(last < .seconds(40 + 30 + 14), "last attempt at \(last)")
    }

    /// Ctrl-C while items wait for the rate limit and for their back-off: every such wait ends
    /// at once (no virtual time passes), and those items are reported as not done.
    @Test(.timeLimit(.minutes(1)))
    func aStopEndsEveryWaitBeforeASendAtOnce() async throws {
        let clock = TrackedClock()
        let overloaded = ItemError(kind: .httpStatus, status: 503, message: "overloaded", isRetryable: true)
        // Item 0 fails and backs off for a minute; the others wait for 6 RPM's slots.
        let operation = ScriptedOperation(clock: clock) { index, _ in
            index == 0 ? .fail(overloaded, after: .zero) : .succeed(after: .zero)
        }
        let runner = BatchRunner(
            configuration: BatchConfiguration(
                maxConcurrent: 8,
                retry: RetryPolicy(maxRetries: 5, backoff: Backoff(base: .seconds(60), jitter: .none)),
                pacing: RateLimits(requestsPerMinute: 6, burstReserve: 0, learnFromServer: false),
                retryBudget: nil
            ),
            clock: clock
        )
        let control = BatchControl()
        let run = Task { try await runner.collect(Array(0..<8), operation: operation, control: control) }
        // Item 0 in its back-off and seven items waiting for the limiter (no time passes).
        await clock.waitForSleepers(8)
        let stoppedAt = clock.now
        control.stopAdmitting()
        let (results, summary) = try await run.value
        #expect(clock.now == stoppedAt)
        #expect(results[0].error?.kind == .cancelled && results[0].attempts == 1)
        #expect(results.dropFirst().allSatisfy { $0.error?.kind == .cancelled && $0.attempts == 0 })
        #expect(summary.cancelled == 8)
    }

    /// Two batches on one quota pace together at its limit, not each at the whole of it.
    @Test func twoBatchesOnOneQuotaShareItsLimit() async throws {
        let clock = TrackedClock()
        // 60 RPM, no headroom, a burst of one: one request a second, whoever sends it.
        let quota = Quota(
            limits: RateLimits(
                requestsPerMinute: 60,
                burst: .seconds(1),
                headroom: 0,
                burstReserve: 0,
                learnFromServer: false
            ),
            clock: clock
        )
        let configuration = BatchConfiguration(maxConcurrent: 4, pacing: nil, retryBudget: nil)
        let first = ScriptedOperation(clock: clock) { _, _ in .succeed(after: .zero) }
        let second = ScriptedOperation(clock: clock) { _, _ in .succeed(after: .zero) }
        let a = BatchRunner(configuration: configuration, clock: clock, quota: quota)
        let b = BatchRunner(configuration: configuration, clock: clock, quota: quota)
        _ = try await drive(clock) {
            async let one = a.collect(Array(0..<10), operation: first)
            async let two = b.collect(Array(0..<10), operation: second)
            return try await (one.summary.succeeded, two.summary.succeeded)
        }
        let starts = ((0..<10).flatMap { first.log.times($0) } + (0..<10).flatMap { second.log.times($0) }).sorted()
        #expect(starts.count == 20)
        // One a second from 0: the twentieth at 19 s (each alone would have ended at 9 s).
        #expect(starts == (0..<20).map { .seconds($0) })
    }

    /// `collect` returns one result per input, even for the inputs a stopped batch never ran.
    @Test func collectAccountsForInputsThatNeverRan() async throws {
        let clock = TrackedClock()
        var limited = ItemError(kind: .rateLimited, status: 429, message: "slow down", isRetryable: true)
        limited.retryAfter = .seconds(3600)
        let operation = ScriptedOperation(clock: clock) { [limited] _, _ in .fail(limited, after: .zero) }
        let runner = BatchRunner(
            configuration: BatchConfiguration(
                maxConcurrent: 1,
                pacing: RateLimits(maxWait: .seconds(120)),
                retryBudget: nil
            ),
            clock: clock
        )
        let (results, summary) = try await drive(clock) { try await runner.collect(Array(0..<3), operation: operation) }
        #expect(results.count == 3)
        #expect(results.map(\.id) == ["1", "2", "3"])
        #expect(results.allSatisfy { $0.error?.kind == .cancelled })
        #expect(results[2].error?.message == "not run: the batch stopped before this item")
        #expect(summary.resumeAfterSeconds != nil)
    }
}

@Suite struct BatchProgressTests {
    /// The live counters end equal to the summary's exact counts, retries included.
    @Test func theCountersEndAtTheSummarysCounts() async throws {
        let clock = TrackedClock()
        let overloaded = ItemError(kind: .httpStatus, status: 503, message: "overloaded", isRetryable: true)
        let operation = ScriptedOperation(clock: clock) { index, attempt in
            switch index % 3 {
            case 0: return .succeed(after: .milliseconds(10))
            case 1: return attempt < 2 ? .fail(overloaded, after: .zero) : .succeed(after: .zero)
            default:
                return .fail(
                    ItemError(kind: .httpStatus, status: 400, message: "bad", isRetryable: false),
                    after: .zero
                )
            }
        }
        let runner = BatchRunner(
            configuration: BatchConfiguration(
                maxConcurrent: 3,
                retry: RetryPolicy(backoff: Backoff(jitter: .none)),
                pacing: nil,
                retryBudget: nil
            ),
            clock: clock
        )
        let progress = BatchProgress()
        let items = AsyncArray((0..<9).map { BatchItem(index: $0, id: String($0 + 1), input: $0) })
        let summary = try await drive(clock) {
            try await runner.run(items, operation: operation, progress: progress) { _, _ in }
        }
        let counts = progress.snapshot
        #expect(counts.succeeded == summary.succeeded && counts.failed == summary.failed && counts.inFlight == 0)
        #expect(counts.retries == summary.retries && counts.retries == 3)
        #expect(counts.tokens == summary.tokens.total)
        #expect(counts.costUSD == summary.costUSD)
    }

    /// The seconds the server paused the runs, live, and added up over runs one after another
    /// (each with a quota of its own), as a worker that runs chunk after chunk reports them.
    @Test func pausedSecondsAddUpOverRunsOneAfterAnother() async throws {
        let clock = TrackedClock()
        let limited = ItemError(
            kind: .rateLimited,
            status: 429,
            message: "slow down",
            isRetryable: true,
            retryAfter: .seconds(2)
        )
        let operation = ScriptedOperation(clock: clock) { index, attempt in
            index == 0 && attempt == 1 ? .fail(limited, after: .zero) : .succeed(after: .zero)
        }
        let runner = BatchRunner(
            configuration: BatchConfiguration(
                maxConcurrent: 2,
                attemptTimeout: nil,
                retry: RetryPolicy(backoff: Backoff(jitter: .none)),
                pacing: RateLimits(learnFromServer: false),
                retryBudget: nil
            ),
            clock: clock
        )
        let progress = BatchProgress()
        var total = 0.0
        for _ in 1...2 {
            let items = AsyncArray((0..<3).map { BatchItem(index: $0, id: String($0 + 1), input: $0) })
            let summary = try await drive(clock) {
                try await runner.run(items, operation: operation, progress: progress) { _, _ in }
            }
            total += summary.pausedSeconds
            #expect(summary.pausedSeconds == 2)
            #expect(progress.snapshot.pausedSeconds == total)
        }
    }
}
