import Logging

extension BatchRunner {
    /// Runs every attempt of one item: attempt, classify, back off, until success or give-up.
    func process<Operation: BatchOperation>(
        _ item: BatchItem<Operation.Input>,
        operation: Operation,
        events: AsyncStream<BatchEvent>.Continuation?
    ) async -> Finished<Operation.Input, Operation.Output> {
        var logger = self.logger
        logger[metadataKey: "pacer.item.id"] = "\(item.id)"
        events?.yield(.started(index: item.index, id: item.id))
        let start = clock.now
        var busy = Duration.zero
        var errors: [ItemError] = []
        var previousDelay: Duration?

        func finish(_ outcome: Result<Operation.Output, ItemError>) -> Finished<Operation.Input, Operation.Output> {
            let result = ItemResult(
                index: item.index,
                id: item.id,
                outcome: outcome,
                attempts: max(1, errors.count + (outcome.isSuccess ? 1 : 0)),
                attemptErrors: errors,
                latency: start.duration(to: clock.now)
            )
            return Finished(item: item, result: result, busy: busy)
        }

        var attempt = 1
        while true {
            if Task.isCancelled {
                errors.append(.cancelled)
                return finish(.failure(.cancelled))
            }
            let attemptStart = clock.now
            do {
                let output = try await withAttemptTimeout(configuration.attemptTimeout) { [attempt] in
                    try await operation.attempt(item, attempt: attempt)
                }
                busy += attemptStart.duration(to: clock.now)
                return finish(.success(output))
            } catch {
                busy += attemptStart.duration(to: clock.now)
                // A timeout that fired because the whole batch is being cancelled is a cancellation.
                let failure = Task.isCancelled ? ItemError.cancelled : ItemError(classifying: error)
                errors.append(failure)
                let decision = configuration.retry.decide(
                    after: failure,
                    retriesSoFar: attempt - 1,
                    previousDelay: previousDelay,
                    unit: random.nextUnit()
                )
                guard case .retry(let delay) = decision, failure.kind != .cancelled else {
                    logger.debug("item failed", metadata: ["pacer.attempt": "\(attempt)", "pacer.error": "\(failure)"])
                    events?.yield(.attemptFailed(index: item.index, id: item.id, attempt: attempt, error: failure, retryIn: nil))
                    return finish(.failure(failure))
                }
                logger.debug(
                    "attempt failed, retrying",
                    metadata: ["pacer.attempt": "\(attempt)", "pacer.error": "\(failure)", "pacer.delay": "\(delay)"]
                )
                events?.yield(.attemptFailed(index: item.index, id: item.id, attempt: attempt, error: failure, retryIn: delay))
                do {
                    try await clock.sleep(for: delay)
                } catch {
                    errors.append(.cancelled)
                    return finish(.failure(.cancelled))
                }
                previousDelay = delay
                attempt += 1
            }
        }
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
                try await clock.sleep(for: timeout)
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
