import Clocks
import PacerCore
import Synchronization
import Testing

@Suite struct BatchRunnerTests {
    func runner(
        _ clock: TrackedClock,
        concurrency: Int = 3,
        timeout: Duration? = nil,
        retries: Int = 5,
        deadline: Duration? = nil
    ) -> BatchRunner<TrackedClock> {
        BatchRunner(
            configuration: BatchConfiguration(
                maxConcurrent: concurrency,
                attemptTimeout: timeout,
                retry: RetryPolicy(
                    maxRetries: retries,
                    backoff: Backoff(base: .seconds(1), multiplier: 2, cap: .seconds(60), jitter: .none)
                ),
                pacing: nil,
                retryBudget: nil,
                itemDeadline: deadline
            ),
            clock: clock
        )
    }

    @Test func neverMoreThanMaxConcurrentInFlight() async throws {
        let clock = TrackedClock()
        let operation = ScriptedOperation(clock: clock) { _, _ in .succeed(after: .seconds(1)) }
        let runner = runner(clock, concurrency: 3)
        let (results, summary) = try await drive(clock) {
            try await runner.collect(Array(0..<20), operation: operation)
        }
        #expect(operation.probe.max == 3)
        #expect(results.count == 20 && summary.succeeded == 20)
        // 20 items in waves of 3: 7 seconds of virtual time.
        #expect(summary.wallSeconds == 7)
        #expect(summary.effectiveConcurrency > 2.7)
    }

    @Test func inputIsReadLazilyOneItemPerFreedSlot() async throws {
        let clock = TrackedClock()
        let pulled = Counter()
        let operation = ScriptedOperation(clock: clock) { _, _ in .succeed(after: .seconds(1)) }
        let items = CountingSequence(count: 50, pulled: pulled)
        let runner = runner(clock, concurrency: 4)
        let observed = Mutex(0)
        let delivered = Counter()
        _ = try await drive(clock) {
            try await runner.run(items, operation: operation) { _, _ in
                // Items read but not yet delivered (this one included) are the ones in flight.
                let read = pulled.value
                let before = delivered.value
                observed.withLock { $0 = max($0, read - before) }
                delivered.increment()
            }
        }
        #expect(observed.withLock { $0 } == 4)
        #expect(delivered.value == 50)
    }

    /// An input that is slow to give its next item (a producer on stdin) must not hold back
    /// the results of items that already finished: they are delivered, and so written, at once.
    /// (Before, the next read and the delivery shared one task: this test hung until its limit.)
    @Test(.timeLimit(.minutes(1)))
    func resultsAreDeliveredWhileTheInputWaitsForItsNextItem() async throws {
        let clock = TrackedClock()
        let operation = ScriptedOperation(clock: clock) { _, _ in .succeed(after: .zero) }
        let (items, feed) = AsyncStream.makeStream(of: BatchItem<Int>.self)
        let (delivered, deliveries) = AsyncStream.makeStream(of: Int.self)
        feed.yield(BatchItem(index: 0, id: "1", input: 0))
        let runner = runner(clock)
        let run = Task {
            try await runner.run(items, operation: operation) { _, result in deliveries.yield(result.index) }
        }
        // Item 0's result comes while the feed is open and has nothing more.
        let first = await delivered.first { _ in true }
        #expect(first == 0)
        feed.yield(BatchItem(index: 1, id: "2", input: 1))
        feed.finish()
        let summary = try await run.value
        #expect(summary.succeeded == 2)
    }

    /// The delays the engine chose before each retry of item 0, from its events.
    func retryDelays(_ events: AsyncStream<BatchEvent>) async -> [Duration] {
        var delays: [Duration] = []
        for await event in events {
            if case .attemptFailed(0, _, _, _, let delay?) = event { delays.append(delay) }
        }
        return delays
    }

    /// Time between consecutive attempts of item 0.
    func intervals(_ log: AttemptLog) -> [Duration] {
        let times = log.times(0)
        return zip(times.dropFirst(), times).map { $0 - $1 }
    }

    @Test func retriesFollowTheBackoffSchedule() async throws {
        let clock = TrackedClock()
        let operation = ScriptedOperation(clock: clock) { _, attempt in
            attempt <= 3 ? .fail(retryable, after: .zero) : .succeed(after: .zero)
        }
        let runner = runner(clock, concurrency: 1)
        let (events, continuation) = AsyncStream.makeStream(of: BatchEvent.self)
        let (results, summary) = try await drive(clock) {
            try await runner.collect([0], operation: operation, events: continuation)
        }
        continuation.finish()
        // base 1 s, multiplier 2, no jitter: 1 s, 2 s, 4 s.
        #expect(await retryDelays(events) == [.seconds(1), .seconds(2), .seconds(4)])
        // And the engine really waited that long, to the nanosecond of virtual time.
        #expect(intervals(operation.log) == [.seconds(1), .seconds(2), .seconds(4)])
        #expect(results[0].attempts == 4)
        #expect(results[0].attemptErrors == [retryable, retryable, retryable])
        #expect(summary.retries == 3)
    }

    @Test func retryAfterWinsOverTheComputedDelay() async throws {
        let clock = TrackedClock()
        var told = retryable
        told.retryAfter = .seconds(5)
        let operation = ScriptedOperation(clock: clock) { [told] _, attempt in
            attempt == 1 ? .fail(told, after: .zero) : .succeed(after: .zero)
        }
        let runner = runner(clock, concurrency: 1)
        let (events, continuation) = AsyncStream.makeStream(of: BatchEvent.self)
        _ = try await drive(clock) { try await runner.collect([0], operation: operation, events: continuation) }
        continuation.finish()
        #expect(await retryDelays(events) == [.seconds(5)])
        let waited = try #require(intervals(operation.log).first)
        #expect(waited == .seconds(5))
    }

    @Test func permanentErrorsAreNotRetried() async throws {
        let clock = TrackedClock()
        let operation = ScriptedOperation(clock: clock) { _, _ in .fail(permanent, after: .zero) }
        let (results, summary) = try await drive(clock) { try await runner(clock).collect([0], operation: operation) }
        #expect(results[0].attempts == 1)
        #expect(results[0].error == permanent)
        #expect(summary.failed == 1 && summary.retries == 0)
    }

    @Test func aTimeoutCancelsTheAttemptAndIsRetried() async throws {
        let clock = TrackedClock()
        let operation = ScriptedOperation(clock: clock) { _, attempt in
            attempt == 1 ? .succeed(after: .seconds(30)) : .succeed(after: .seconds(1))
        }
        let runner = runner(clock, concurrency: 1, timeout: .seconds(2))
        let (results, _) = try await drive(clock) { try await runner.collect([0], operation: operation) }
        #expect(operation.cancellations.value == 1)
        #expect(results[0].isSuccess)
        #expect(results[0].attemptErrors.map(\.kind) == [.timeout])
        // The timed-out attempt ended at 2 s, then 1 s of backoff.
        let waited = try #require(intervals(operation.log).first)
        #expect(waited == .seconds(3))
    }

    @Test func whenTimeoutsPersistTheItemFailsWithKindTimeout() async throws {
        let clock = TrackedClock()
        let operation = ScriptedOperation(clock: clock) { _, _ in .succeed(after: .seconds(30)) }
        let runner = runner(clock, concurrency: 1, timeout: .seconds(2), retries: 2)
        let (results, _) = try await drive(clock) { try await runner.collect([0], operation: operation) }
        #expect(results[0].error?.kind == .timeout)
        #expect(results[0].attempts == 3)
        #expect(operation.cancellations.value == 3)
    }

    @Test func theItemDeadlineCutsARunningAttemptShort() async throws {
        let clock = TrackedClock()
        let operation = ScriptedOperation(clock: clock) { _, _ in .succeed(after: .seconds(30)) }
        let runner = runner(clock, concurrency: 1, timeout: .seconds(60), deadline: .seconds(5))
        let (results, _) = try await drive(clock) { try await runner.collect([0], operation: operation) }
        #expect(results[0].attempts == 1)
        #expect(operation.cancellations.value == 1)
        #expect(results[0].error?.kind == .timeout)
        #expect(results[0].error?.message == "no response within 5.0s (item deadline of 5.0s reached)")
        #expect(results[0].latency == .seconds(5))
    }

    @Test func noRetryStartsThatCouldNotBeginBeforeTheItemDeadline() async throws {
        let clock = TrackedClock()
        let operation = ScriptedOperation(clock: clock) { _, _ in .fail(retryable, after: .zero) }
        // Attempts at 0 s, 1 s and 3 s; the next would start at 7 s, past the 6 s deadline.
        let runner = runner(clock, concurrency: 1, retries: 10, deadline: .seconds(6))
        let (results, summary) = try await drive(clock) { try await runner.collect([0], operation: operation) }
        #expect(results[0].attempts == 3)
        #expect(summary.retries == 2)
        #expect(results[0].error?.status == 503)
        #expect(results[0].error?.message == "overloaded (item deadline of 6.0s reached)")
        #expect(results[0].latency == .seconds(3))
    }

    @Test func oneFailingItemDoesNotStopTheOthersAndResultsKeepTheirIndex() async throws {
        let clock = TrackedClock()
        let operation = ScriptedOperation(clock: clock) { index, _ in
            index == 3 ? .fail(permanent, after: .zero) : .succeed(after: .milliseconds(100 * (10 - index)))
        }
        let (results, summary) = try await drive(clock) {
            try await runner(clock, concurrency: 4).collect(Array(100..<110), operation: operation)
        }
        #expect(results.map(\.index) == Array(0..<10))
        #expect(results.map(\.id) == (1...10).map(String.init))
        #expect(results.map { $0.output?.value } == (100..<110).map { $0 == 103 ? nil : $0 })
        #expect(summary.succeeded == 9 && summary.failed == 1 && summary.total == 10)
    }

    @Test func summaryCountersAddUp() async throws {
        let clock = TrackedClock()
        var limited = retryable
        limited.status = 429
        let operation = ScriptedOperation(clock: clock) { [limited] index, attempt in
            switch index % 3 {
            case 0: return .succeed(after: .milliseconds(500))
            case 1: return attempt < 3 ? .fail(limited, after: .zero) : .succeed(after: .zero)
            default: return .fail(retryable, after: .zero)
            }
        }
        let (results, summary) = try await drive(clock) {
            try await runner(clock, concurrency: 5, retries: 2).collect(Array(0..<9), operation: operation)
        }
        #expect(summary.total == 9)
        #expect(summary.succeeded == 6 && summary.failed == 3)
        #expect(summary.retries == results.reduce(0) { $0 + $1.attempts - 1 })
        #expect(summary.retries == 3 * 2 + 3 * 2)
        #expect(summary.rateLimitedResponses == 6)
        // Tokens from successes only: inputs 0,3,6 and 1,4,7 each report `value` prompt tokens + 1.
        #expect(summary.tokens == TokenUsage(prompt: 0 + 3 + 6 + 1 + 4 + 7, completion: 6))
        // Cost is known for even values only, and never counted as $0 for the others.
        #expect(summary.costUSD == 1.5)
        #expect(summary.itemsWithUnknownCost == 3)
    }

    @Test func theRetryBudgetCapsRetriesAcrossTheBatch() async throws {
        let clock = TrackedClock()
        let operation = ScriptedOperation(clock: clock) { _, _ in .fail(retryable, after: .zero) }
        let runner = BatchRunner(
            configuration: BatchConfiguration(
                maxConcurrent: 5,
                attemptTimeout: nil,
                retry: RetryPolicy(maxRetries: 5, backoff: Backoff(base: .seconds(1), jitter: .none)),
                pacing: nil,
                retryBudget: RetryBudget(ratio: 0, minimumPerSecond: 0, initial: 3)
            ),
            clock: clock
        )
        let (results, summary) = try await drive(clock) { try await runner.collect(Array(0..<5), operation: operation) }
        #expect(summary.retries == 3)
        #expect(summary.failed == 5)
        let exhausted = results.compactMap(\.error).filter { $0.message.hasSuffix("(retry budget exhausted)") }
        #expect(exhausted.count == 5)
        #expect(exhausted.allSatisfy { $0.kind == .httpStatus && $0.status == 503 })
    }

    @Test func a429PausesEveryWorkerNotOnlyTheOneThatGotIt() async throws {
        let clock = TrackedClock()
        var limited = retryable
        limited.status = 429
        limited.retryAfter = .seconds(2)
        let operation = ScriptedOperation(clock: clock) { [limited] index, attempt in
            // Item 0 is told to wait 2 s. Items 1...3 fail once with a plain 503 and would retry
            // after 0.1 s, inside item 0's pause: they must wait for it too.
            switch (index, attempt) {
            case (0, 1): return .fail(limited, after: .zero)
            case (_, 1): return .fail(retryable, after: .milliseconds(10))
            default: return .succeed(after: .zero)
            }
        }
        let runner = BatchRunner(
            configuration: BatchConfiguration(
                maxConcurrent: 4,
                attemptTimeout: nil,
                retry: RetryPolicy(maxRetries: 3, backoff: Backoff(base: .milliseconds(100), jitter: .none)),
                pacing: RateLimits(learnFromServer: false),
                retryBudget: nil
            ),
            clock: clock
        )
        let (results, summary) = try await drive(clock) { try await runner.collect(Array(0..<4), operation: operation) }
        #expect(results.allSatisfy { $0.isSuccess })
        for index in 1...3 {
            // No attempt inside the pause: those that had not started yet start when it ends.
            let times = operation.log.times(index)
            #expect(times.count == 2)
            #expect(times.allSatisfy { $0 == .zero || $0 >= .seconds(2) }, "item \(index) attempted at \(times)")
        }
        #expect(summary.pausedSeconds == 2)
        #expect(summary.rateLimitedResponses == 1)
    }

    @Test func anInputErrorStopsAdmissionButDeliversWhatWasInFlight() async throws {
        let clock = TrackedClock()
        let operation = ScriptedOperation(clock: clock) { _, _ in .succeed(after: .seconds(1)) }
        let delivered = Counter()
        let runner = runner(clock, concurrency: 3)
        let error = await #expect(throws: BatchStopped.self) {
            try await drive(clock) {
                try await runner.run(FailingSequence(failAfter: 5), operation: operation) { _, _ in
                    delivered.increment()
                }
            }
        }
        #expect(delivered.value == 5)
        #expect(error?.summary.succeeded == 5)
    }
}

/// 0..<count as batch items, counting how many were pulled.
struct CountingSequence: AsyncSequence, Sendable {
    let count: Int
    let pulled: Counter

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(count: count, pulled: pulled) }
    struct AsyncIterator: AsyncIteratorProtocol {
        let count: Int
        let pulled: Counter
        var next = 0
        mutating func next() async -> BatchItem<Int>? {
            guard next < count else { return nil }
            defer { next += 1 }
            pulled.increment()
            return BatchItem(index: next, id: String(next + 1), input: next)
        }
    }
}

/// Items 0..<failAfter, then an error.
struct FailingSequence: AsyncSequence, Sendable {
    struct Broken: Error {}
    let failAfter: Int
    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(failAfter: failAfter) }
    struct AsyncIterator: AsyncIteratorProtocol {
        let failAfter: Int
        var next = 0
        mutating func next() async throws -> BatchItem<Int>? {
            guard next < failAfter else { throw Broken() }
            defer { next += 1 }
            return BatchItem(index: next, id: String(next + 1), input: next)
        }
    }
}
