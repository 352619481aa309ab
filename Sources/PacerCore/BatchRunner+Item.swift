import Logging

extension BatchRunner {
    /// Carries out one item's ``ItemStateMachine``: waits for the quota, attempts, backs off, as
    /// the machine says, and reports each outcome back to it. All decisions are the machine's.
    func process<Operation: BatchOperation>(
        _ item: BatchItem<Operation.Input>,
        operation: Operation,
        quota: any QuotaProtocol<C>,
        origin: C.Instant,
        control: BatchControl?,
        observers: Observers
    ) async -> Finished<Operation.Input, Operation.Output> {
        var logger = self.logger
        // Every item's own logger would cost a metadata dictionary per item; only the debug
        // messages below use it.
        if logger.logLevel <= .debug { logger[metadataKey: "pacer.item.id"] = "\(item.id)" }
        let events = observers.events
        events?.yield(.started(index: item.index, id: item.id))
        observers.progress?.started()
        var now: Duration { origin.duration(to: clock.now) }
        var lifecycle = ItemStateMachine(
            configuration: .init(
                retry: configuration.retry,
                attemptTimeout: configuration.attemptTimeout,
                itemDeadline: configuration.itemDeadline,
                maxWait: quota.maxWait,
                tokens: operation.estimatedTokens(for: item.input)
            )
        )
        var output: Operation.Output?
        var lastFailure: (attempt: Int, error: ItemError)?
        // With adaptive concurrency the item came in through the gate (admission entered it);
        // it leaves while it backs off and enters again before its next attempt.
        var holdsGate = observers.gate != nil
        defer { if holdsGate { observers.gate?.leave() } }
        // A kept answer: no quota, no attempt.
        if let stored = await operation.storedOutput(for: item.input) {
            let result = ItemResult(
                index: item.index,
                id: item.id,
                outcome: .success(stored),
                attempts: 0,
                attemptErrors: [],
                latency: .zero
            )
            return Finished(item: item, result: result, busy: .zero)
        }
        var action = lifecycle.start(now: now)
        while true {
            if let release = action.release { quota.release(release.reservation, outcome: release.outcome) }
            if let pause = action.pause { quota.pause(for: pause) }
            switch action.next {
            case .acquire(let tokens, let deadline):
                do {
                    let reservation = try await quota.acquire(
                        tokens: tokens,
                        before: deadline.map { origin.advanced(by: $0) },
                        unlessStopped: control
                    )
                    action = lifecycle.admitted(reservation, stopping: control?.isStopping == true, now: now)
                } catch {
                    action = lifecycle.acquireFailed(error, now: now)
                }

            case .attempt(let number, let timeout):
                if number == 1 { quota.recordFirstAttempt() }
                let inFlight = observers.gate?.inFlight ?? 0
                let sent = clock.now
                do {
                    let timeLeft = lifecycle.timeLeft(now: now)
                    // The batch's control goes with the attempt, for operations that wait
                    // before they send.
                    let result = try await BatchControl.$current.withValue(control) {
                        try await attempt(
                            item,
                            number: number,
                            timeout: timeout,
                            timeLeft: timeLeft,
                            operation: operation
                        )
                    }
                    output = result
                    if let gate = observers.gate {
                        // Latency per output token when the answer says, else per item.
                        let units = Double(max(1, result.tokenUsage?.completion ?? 1))
                        let seconds = sent.duration(to: clock.now).pacerSeconds
                        gate.record(.answered(secondsPerUnit: seconds / units, inFlight: inFlight))
                        observers.progress?.limited(to: gate.limit)
                    }
                    action = lifecycle.succeeded(
                        usedTokens: result.tokenUsage?.total,
                        rateLimit: result.rateLimit,
                        now: now
                    )
                } catch {
                    // A timeout that fired because the whole batch is being cancelled is a cancellation.
                    let failure = Task.isCancelled ? ItemError.cancelled : ItemError(classifying: error)
                    lastFailure = (number, failure)
                    // A stream cut short while others were in flight: the server serves fewer
                    // at once than the limit let through, and the retry is the limit's doing.
                    let displaced = observers.gate != nil && failure.endedEarly && inFlight > 1
                    if let gate = observers.gate {
                        gate.record(displaced ? .overloaded : Self.concurrencySample(for: failure))
                        observers.progress?.limited(to: gate.limit)
                    }
                    action = lifecycle.failed(
                        failure,
                        stopping: control?.isStopping == true,
                        displaced: displaced,
                        unit: random.nextUnit(),
                        now: now
                    )
                }

            case .backOff(let delay):
                guard quota.tryRetry() else {
                    action = lifecycle.retryRefused(now: now)
                    continue
                }
                if let (attempt, error) = lastFailure {
                    logger.debug(
                        "attempt failed, retrying",
                        metadata: ["pacer.attempt": "\(attempt)", "pacer.error": "\(error)", "pacer.delay": "\(delay)"]
                    )
                    events?.yield(
                        .attemptFailed(index: item.index, id: item.id, attempt: attempt, error: error, retryIn: delay)
                    )
                    observers.progress?.retried()
                    lastFailure = nil
                }
                if holdsGate {
                    observers.gate?.leave()
                    holdsGate = false
                }
                do {
                    try await clock.sleep(until: clock.now.advanced(by: delay), unlessStopped: control)
                    if let gate = observers.gate {
                        await gate.enter()
                        holdsGate = true
                    }
                    action = lifecycle.backOffEnded(now: now)
                } catch {
                    action = lifecycle.stopped(cancelled: !(error is StopRequested), now: now)
                }

            case .finish(let ending):
                if let (attempt, error) = lastFailure {
                    logger.debug("item failed", metadata: ["pacer.attempt": "\(attempt)", "pacer.error": "\(error)"])
                    events?.yield(
                        .attemptFailed(
                            index: item.index,
                            id: item.id,
                            attempt: attempt,
                            error: ending.error ?? error,
                            retryIn: nil
                        )
                    )
                }
                let outcome: Result<Operation.Output, ItemError>
                if let error = ending.error {
                    outcome = .failure(error)
                } else if let output {
                    outcome = .success(output)
                } else {
                    preconditionFailure("an item ended without an error or an output")
                }
                let result = ItemResult(
                    index: item.index,
                    id: item.id,
                    outcome: outcome,
                    attempts: ending.attempts,
                    attemptErrors: ending.attemptErrors,
                    latency: ending.latency
                )
                return Finished(item: item, result: result, busy: ending.busy)
            }
        }
    }

    /// Makes attempt `number` at `item`, bounded by `timeout` (by the operation itself when it
    /// can) and by the item's `timeLeft`.
    private func attempt<Operation: BatchOperation>(
        _ item: BatchItem<Operation.Input>,
        number: Int,
        timeout: Duration?,
        timeLeft: Duration?,
        operation: Operation
    ) async throws -> Operation.Output {
        if let timeout, operation.enforcesTimeout {
            if let timeLeft {
                // The operation may bound only part of the attempt (a stream, its first
                // token): the item's deadline bounds all of it.
                return try await withAttemptTimeout(timeLeft) {
                    try await operation.attempt(item, attempt: number, timeout: timeout)
                }
            }
            return try await operation.attempt(item, attempt: number, timeout: timeout)
        }
        return try await withAttemptTimeout(timeout) {
            try await operation.attempt(item, attempt: number)
        }
    }

    /// What a failed attempt says about the server's load: a 503, a 429 without rate-limit
    /// headers (a full queue, not a quota) or a timeout is an overload.
    static func concurrencySample(for failure: ItemError) -> AdaptiveConcurrency.Sample {
        if failure.kind == .timeout || failure.status == 503 { return .overloaded }
        if failure.status == 429, failure.rateLimit?.requestLimit == nil, failure.rateLimit?.tokenLimit == nil {
            return .overloaded
        }
        return .other
    }

    /// Runs `body`, cancelling it and throwing a timeout error if it takes longer than `timeout`.
    func withAttemptTimeout<T: Sendable>(
        _ timeout: Duration?,
        _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        guard let timeout else { return try await body() }
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                // Sleep in slices of at most a second: a cancelled sleep keeps its timer (and
                // memory) until it would have fired, so one sleep of the whole timeout per
                // attempt held memory in proportion to requests per second × timeout.
                let deadline = clock.now.advanced(by: timeout)
                while clock.now < deadline {
                    try await clock.sleep(until: min(deadline, clock.now.advanced(by: .seconds(1))), tolerance: nil)
                }
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else {
                throw ItemError.timedOut(after: timeout)
            }
            return value
        }
    }
}

extension Result {
    var isSuccess: Bool {
        if case .success = self { return true }
        return false
    }
}

/// Who watches a running batch: an event stream and live counters, each optional.
struct Observers: Sendable {
    var events: AsyncStream<BatchEvent>.Continuation?
    var progress: BatchProgress?
    /// The adaptive concurrency limit, fed with each attempt's latency and outcome.
    var gate: ConcurrencyGate?
}
