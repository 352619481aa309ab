import Logging

/// Runs an operation over a stream of items with bounded concurrency, per-attempt timeouts
/// and retries, delivering each result as it finishes.
///
/// The input is read lazily: at most ``BatchConfiguration/maxConcurrent`` items are held at
/// once, whatever the input's size. One item's failure never affects another. Time and
/// randomness are injected, so tests run it on a test clock with a seeded random source.
///
/// ```swift
/// let runner = BatchRunner(configuration: .init(maxConcurrent: 3))
/// let summary = try await runner.run(items, operation: client) { result in
///     print(result.id, result.isSuccess)
/// }
/// ```
public struct BatchRunner<C: Clock>: Sendable where C.Duration == Duration {
    /// Concurrency, timeout and retry settings.
    public var configuration: BatchConfiguration
    /// The clock for timeouts, backoff and timing.
    public let clock: C
    /// The source of jitter.
    public let random: RandomSource
    /// Where the runner logs attempts and retries (at debug level).
    public var logger: Logger
    /// The quota every run paces against, shared with whatever else uses it; `nil` gives
    /// each run a quota of its own, from ``BatchConfiguration/pacing``.
    public let quota: (any QuotaProtocol<C>)?

    /// Creates a runner.
    ///
    /// - Parameters:
    ///   - configuration: Concurrency, timeout and retry settings.
    ///   - clock: The clock for timeouts, backoff and timing.
    ///   - random: The source of jitter (default: the system generator).
    ///   - logger: Where to log (default: nowhere).
    ///   - quota: The quota to pace against, shared by every batch on the same API key
    ///     (default: each run makes its own from ``BatchConfiguration/pacing`` and
    ///     ``BatchConfiguration/retryBudget``, which are then the only settings used).
    public init(
        configuration: BatchConfiguration,
        clock: C,
        random: RandomSource = .system,
        logger: Logger = Logger(label: "pacer", factory: { _ in SwiftLogNoOpLogHandler() }),
        quota: (any QuotaProtocol<C>)? = nil
    ) {
        self.configuration = configuration
        self.clock = clock
        self.random = random
        self.logger = logger
        self.quota = quota
    }

    /// Runs the batch, calling `onResult` once per item as it finishes.
    ///
    /// `onResult` is called from this task, one result at a time, with the item and its result,
    /// so it may write to a file without locking; it is called as soon as the item finishes,
    /// even while the input is still waiting to give its next item (the input is read on a
    /// task of its own, so the sequence must be `Sendable`). If the input sequence throws, no new item is
    /// admitted, the items in flight finish and are delivered, and a ``BatchStopped`` carrying
    /// the input's error and the summary so far is thrown. If `onResult` throws, the items in
    /// flight are cancelled and its error is rethrown.
    ///
    /// - Parameters:
    ///   - items: The items, read lazily.
    ///   - operation: The work for one attempt.
    ///   - events: Where to send events, if anywhere. Events are for logs and displays of
    ///     single items; a slow reader of an unbounded stream holds them all in memory, so
    ///     give the stream a buffering policy, or count with `progress` instead.
    ///   - control: Lets the caller stop the batch gracefully (see ``BatchControl``).
    ///   - progress: Live counters for a progress display, if wanted.
    ///   - caughtUp: Called whenever `onResult` has had every item finished so far, before
    ///     the batch waits for the next: the moment to flush what `onResult` buffered (output
    ///     lines written together), so that no finished result waits for another to finish.
    ///   - onResult: Called with each finished item.
    /// - Returns: The batch summary.
    public func run<Items: AsyncSequence & Sendable, Operation: BatchOperation>(
        _ items: Items,
        operation: Operation,
        events: AsyncStream<BatchEvent>.Continuation? = nil,
        control: BatchControl? = nil,
        progress: BatchProgress? = nil,
        caughtUp: (() throws -> Void)? = nil,
        onResult: (BatchItem<Operation.Input>, ItemResult<Operation.Output>) async throws -> Void
    ) async throws -> BatchSummary where Items.Element == BatchItem<Operation.Input> {
        let start = clock.now
        let quota: any QuotaProtocol<C> =
            self.quota
            ?? Quota(
                limits: configuration.pacing ?? RateLimits(learnFromServer: false),
                retryBudget: configuration.retryBudget,
                clock: clock
            )
        let pausedBefore = quota.pausedSeconds
        let gate = configuration.adaptiveConcurrency.map { adaptive in
            var bounded = adaptive
            bounded.maximum = min(adaptive.maximum, configuration.maxConcurrent)
            bounded.minimum = min(adaptive.minimum, bounded.maximum)
            bounded.initial = min(max(adaptive.initial, bounded.minimum), bounded.maximum)
            return ConcurrencyGate(bounded)
        }
        progress?.limited(to: gate?.limit)
        progress?.watchPauses { quota.pausedSeconds - pausedBefore }
        var summary = SummaryBuilder()
        let handoff = ResultHandoff<Finished<Operation.Input, Operation.Output>>(slots: configuration.maxConcurrent)
        // Admission runs on a task of its own, so that waiting for the next input item (a
        // slow producer on stdin) never holds back the results that finish meanwhile: each is
        // delivered here as soon as it is done.
        async let admissionEnded = admit(
            items,
            operation: operation,
            quota: quota,
            control: control,
            observers: Observers(events: events, progress: progress, gate: gate),
            handoff: handoff
        )
        while let finished = await handoff.receive() {
            summary.record(finished.result, busy: finished.busy)
            let result = finished.result
            let outcome: BatchEvent.Outcome =
                switch result.outcome {
                case .success: .succeeded
                case .failure(let error): error.kind == .cancelled ? .cancelled : .failed
                }
            progress?.finished(outcome, tokens: result.output?.tokenUsage, costUSD: result.output?.costUSD)
            events?.yield(
                .finished(
                    index: result.index,
                    id: result.id,
                    outcome: outcome,
                    attempts: result.attempts,
                    tokens: result.output?.tokenUsage,
                    costUSD: result.output?.costUSD
                )
            )
            do {
                try await onResult(finished.item, finished.result)
                if let caughtUp, handoff.isDrained { try caughtUp() }
            } catch {
                // Leaving this scope cancels admission and the items in flight.
                handoff.close()
                throw error
            }
            handoff.releaseSlot()
        }
        let inputError = await admissionEnded
        var result = summary.summary(wallTime: start.duration(to: clock.now))
        result.pausedSeconds = quota.pausedSeconds - pausedBefore
        result.concurrencyLimit = gate?.limit
        result.resumeAfterSeconds = quota.stoppedFor?.pacerSeconds
        if let inputError { throw BatchStopped(cause: inputError, summary: result) }
        return result
    }

    /// Reads items as slots free up and runs each on a child task that hands its result to
    /// `handoff`; returns the input's error, if reading it failed.
    private func admit<Items: AsyncSequence & Sendable, Operation: BatchOperation>(
        _ items: Items,
        operation: Operation,
        quota: any QuotaProtocol<C>,
        control: BatchControl?,
        observers: Observers,
        handoff: ResultHandoff<Finished<Operation.Input, Operation.Output>>
    ) async -> (any Error)? where Items.Element == BatchItem<Operation.Input> {
        // Once every admitted item has been handed over (the group has waited for them all).
        defer { handoff.finish() }
        // Discarding: a finished child is freed at once (a plain group keeps every finished
        // child until it is awaited, which over a million items is memory and time).
        let origin = clock.now
        return await withDiscardingTaskGroup { group in
            var iterator = items.makeAsyncIterator()
            var inputError: (any Error)?
            while await handoff.acquireSlot() {
                // With adaptive concurrency, also wait for room under its limit.
                await observers.gate?.enter()
                guard !Task.isCancelled, !quota.isStopped, control?.isStopping != true else {
                    observers.gate?.leave()
                    break
                }
                let next: BatchItem<Operation.Input>?
                do {
                    next = try await iterator.next()
                } catch {
                    observers.gate?.leave()
                    inputError = error
                    break
                }
                guard let item = next else {
                    observers.gate?.leave()
                    break
                }
                group.addTask {
                    let finished = await self.process(
                        item,
                        operation: operation,
                        quota: quota,
                        origin: origin,
                        control: control,
                        observers: observers
                    )
                    handoff.send(finished)
                }
            }
            return inputError
        }
    }

    /// Runs the batch over an array and returns one result per input, in input order.
    ///
    /// A convenience for small batches: it holds every result in memory. Item ids are the
    /// 1-based positions. An input the batch never ran (it stopped first: a server wait longer
    /// than ``RateLimits/maxWait``) has a result with a `cancelled` error that says so.
    public func collect<Operation: BatchOperation>(
        _ inputs: [Operation.Input],
        operation: Operation,
        events: AsyncStream<BatchEvent>.Continuation? = nil,
        control: BatchControl? = nil
    ) async throws -> (results: [ItemResult<Operation.Output>], summary: BatchSummary) {
        var slots = [ItemResult<Operation.Output>?](repeating: nil, count: inputs.count)
        let items = inputs.enumerated().map {
            BatchItem(index: $0.offset, id: String($0.offset + 1), input: $0.element)
        }
        let summary = try await run(AsyncArray(items), operation: operation, events: events, control: control) {
            _,
            result in
            slots[result.index] = result
        }
        let results = slots.enumerated().map { index, result in
            result
                ?? ItemResult(
                    index: index,
                    id: String(index + 1),
                    outcome: .failure(
                        ItemError(
                            kind: .cancelled,
                            message: "not run: the batch stopped before this item",
                            isRetryable: false
                        )
                    ),
                    attempts: 0,
                    attemptErrors: [],
                    latency: .zero
                )
        }
        return (results, summary)
    }
}

extension BatchRunner where C == ContinuousClock {
    /// Creates a runner on the continuous clock.
    ///
    /// - Parameters:
    ///   - configuration: Concurrency, timeout and retry settings.
    ///   - random: The source of jitter (default: the system generator).
    ///   - logger: Where to log (default: nowhere).
    ///   - quota: The quota to pace against, shared by every batch on the same API key
    ///     (default: each run makes its own).
    public init(
        configuration: BatchConfiguration,
        random: RandomSource = .system,
        logger: Logger = Logger(label: "pacer", factory: { _ in SwiftLogNoOpLogHandler() }),
        quota: (any QuotaProtocol<ContinuousClock>)? = nil
    ) {
        self.init(configuration: configuration, clock: ContinuousClock(), random: random, logger: logger, quota: quota)
    }
}

/// An item's result with the item and the time its attempts were in flight.
struct Finished<Input: Sendable, Output: Sendable>: Sendable {
    var item: BatchItem<Input>
    var result: ItemResult<Output>
    var busy: Duration
}

/// A batch that stopped before its input ended, because reading the input failed.
///
/// The items admitted before the failure finished and were delivered; ``summary`` counts them.
public struct BatchStopped: Error, CustomStringConvertible {
    /// The input's error.
    public var cause: any Error
    /// What the batch did before it stopped.
    public var summary: BatchSummary

    /// A one-line description for people.
    public var description: String { "batch stopped: \(cause)" }
}
