import Logging

extension BatchRunner {
    /// Runs every attempt of one item: wait for the limiter, attempt, classify, back off,
    /// until success or give-up.
    func process<Operation: BatchOperation>(
        _ item: BatchItem<Operation.Input>,
        operation: Operation,
        limiter: RateLimiter<C>,
        control: BatchControl?,
        events: AsyncStream<BatchEvent>.Continuation?
    ) async -> Finished<Operation.Input, Operation.Output> {
        var logger = self.logger
        // Every item's own logger would cost a metadata dictionary per item; only the debug
        // messages below use it.
        if logger.logLevel <= .debug { logger[metadataKey: "pacer.item.id"] = "\(item.id)" }
        events?.yield(.started(index: item.index, id: item.id))
        // Latency runs from the first admission: time queued for the rate limit before the
        // first attempt is pacing, not the item's latency.
        var start: C.Instant?
        var busy = Duration.zero
        var errors: [ItemError] = []
        var previousDelay: Duration?
        let estimate = operation.estimatedTokens(for: item.input)

        func finish(_ outcome: Result<Operation.Output, ItemError>) -> Finished<Operation.Input, Operation.Output> {
            let result = ItemResult(
                index: item.index,
                id: item.id,
                outcome: outcome,
                attempts: errors.count + (outcome.isSuccess ? 1 : 0),
                attemptErrors: errors,
                latency: start.map { $0.duration(to: clock.now) } ?? .zero
            )
            return Finished(item: item, result: result, busy: busy)
        }

        /// Ends the item without sending it again: it is not done, and a rerun does it.
        func notSent(_ reason: String) -> Finished<Operation.Input, Operation.Output> {
            finish(.failure(ItemError(kind: .cancelled, message: reason, isRetryable: false)))
        }

        /// The item's last attempt error, marked as the one that met the item's deadline.
        func deadlineReached() -> ItemError {
            var last = errors.last ?? ItemError(kind: .timeout, message: "no attempt", isRetryable: false)
            last.message += " (item deadline of \(configuration.itemDeadline?.pacerSeconds ?? 0)s reached)"
            last.isRetryable = false
            if !errors.isEmpty { errors[errors.count - 1] = last }
            return last
        }

        var deadline: C.Instant?
        var attempt = 1
        while true {
            let reservation: RateLimiter<C>.Reservation
            do {
                if control?.isStopping == true { return notSent("not sent: the batch is stopping") }
                reservation = try await limiter.acquire(tokens: estimate)
                if control?.isStopping == true {
                    limiter.settle(reservation, usedTokens: nil)
                    return notSent("not sent: the batch is stopping")
                }
            } catch let stop as RateLimitStop {
                return notSent("not sent: \(stop)")
            } catch let error as ItemError {
                errors.append(error)
                return finish(.failure(error))
            } catch {
                return notSent("cancelled before it was sent")
            }
            if attempt == 1 {
                start = clock.now
                deadline = configuration.itemDeadline.map { clock.now.advanced(by: $0) }
                limiter.recordFirstAttempt()
            }
            let attemptStart = clock.now
            // The attempt's timeout, shortened to what is left before the item's deadline.
            var timeout = configuration.attemptTimeout
            if let deadline {
                let left = attemptStart.duration(to: deadline)
                guard left > .zero else {
                    limiter.settle(reservation, usedTokens: nil)
                    return finish(.failure(deadlineReached()))
                }
                timeout = min(timeout ?? left, left)
            }
            do {
                let output: Operation.Output
                if let timeout, operation.enforcesTimeout {
                    output = try await operation.attempt(item, attempt: attempt, timeout: timeout)
                } else {
                    output = try await withAttemptTimeout(timeout) { [attempt] in
                        try await operation.attempt(item, attempt: attempt)
                    }
                }
                busy += attemptStart.duration(to: clock.now)
                limiter.settle(reservation, usedTokens: output.tokenUsage?.total ?? 0)
                limiter.observe(output.rateLimit)
                return finish(.success(output))
            } catch {
                busy += attemptStart.duration(to: clock.now)
                // A timeout that fired because the whole batch is being cancelled is a cancellation.
                var failure = Task.isCancelled ? ItemError.cancelled : ItemError(classifying: error)
                limiter.settle(reservation, usedTokens: nil)
                limiter.observe(failure.rateLimit, connectionFailed: failure.kind == .network)
                errors.append(failure)
                if failure.kind == .cancelled { return finish(.failure(failure)) }

                var decision = configuration.retry.decide(
                    after: failure,
                    retriesSoFar: attempt - 1,
                    previousDelay: previousDelay,
                    unit: random.nextUnit()
                )
                if case .retry(let delay) = decision, let deadline, clock.now.advanced(by: delay) >= deadline {
                    // The retry could not start before the item's deadline.
                    failure = deadlineReached()
                    decision = .giveUp
                }
                if case .retry(let delay) = decision {
                    if failure.status == 429 || failure.retryAfter != nil {
                        // The server is saturated: hold every worker, not just this one.
                        guard limiter.pause(for: failure.retryAfter ?? delay) else {
                            errors.removeLast()
                            return notSent("not sent again: \(RateLimitStop(wait: failure.retryAfter ?? delay))")
                        }
                    }
                    if !limiter.tryRetry() {
                        failure.message += " (retry budget exhausted)"
                        errors[errors.count - 1] = failure
                        decision = .giveUp
                    }
                }
                guard case .retry(let delay) = decision else {
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
