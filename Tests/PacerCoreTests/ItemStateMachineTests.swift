import Testing

@testable import PacerCore

/// Table tests of one item's lifecycle: feed events, compare the actions.
@Suite struct ItemStateMachineTests {
    static let overloaded = ItemError(kind: .httpStatus, status: 503, message: "overloaded", isRetryable: true)
    static let badRequest = ItemError(kind: .httpStatus, status: 400, message: "bad request", isRetryable: false)
    static let refused = ItemError(kind: .network, message: "connection refused", isRetryable: true)
    static let probe = QuotaReservation(tokens: 100, probe: true)
    static let booking = QuotaReservation(tokens: 100, probe: false)

    func lifecycle(retries: Int = 3, deadline: Duration? = nil, maxWait: Duration = .seconds(120)) -> ItemStateMachine {
        ItemStateMachine(
            configuration: .init(
                retry: RetryPolicy(maxRetries: retries, backoff: Backoff(base: .seconds(1), jitter: .none)),
                attemptTimeout: .seconds(10),
                itemDeadline: deadline,
                maxWait: maxWait,
                tokens: 100
            )
        )
    }

    /// A lifecycle that has started and been admitted once at `now`.
    func attempting(_ machine: inout ItemStateMachine, reservation: QuotaReservation = booking, now: Duration = .zero) {
        #expect(machine.start(now: now).next == .acquire(tokens: 100, deadline: nil))
        // The first attempt's timeout is the attempt timeout, or the deadline if that is sooner.
        let timeout = min(machine.configuration.itemDeadline ?? .seconds(10), .seconds(10))
        #expect(machine.admitted(reservation, stopping: false, now: now).next == .attempt(number: 1, timeout: timeout))
    }

    func ending(_ action: ItemStateMachine.Action) -> ItemStateMachine.Ending? {
        if case .finish(let ending) = action.next { return ending }
        return nil
    }

    @Test func aSuccessSettlesItsReservationWithTheTokensUsed() {
        var machine = lifecycle()
        attempting(&machine)
        let action = machine.succeeded(usedTokens: 80, rateLimit: nil, now: .seconds(2))
        #expect(action.release == .init(reservation: Self.booking, outcome: .answered(usedTokens: 80, rateLimit: nil)))
        let end = ending(action)
        #expect(end != nil && end?.error == nil)
        #expect(end?.attempts == 1 && end?.latency == .seconds(2) && end?.busy == .seconds(2))
    }

    /// Issue 20: a retry of an attempt the batch's own concurrency probing displaced (a stream
    /// cut short by another request) does not spend the item's retries, up to as many again.
    @Test func displacedAttemptsAreRetriedWithoutSpendingTheItemsRetries() {
        var cut = ItemError(kind: .invalidResponse, status: 200, message: "cut", isRetryable: true)
        cut.endedEarly = true
        var machine = lifecycle(retries: 1)
        attempting(&machine)
        var now = Duration.zero
        var attempt = 1
        // Two displaced failures (the most that are free with one retry allowed: one), then
        // one ordinary: 1 free + 1 counted = 3 attempts in all.
        func fail(displaced: Bool) -> ItemStateMachine.Action {
            now += .seconds(1)
            return machine.failed(cut, stopping: false, displaced: displaced, unit: 0, now: now)
        }
        func again() {
            now += .seconds(1)
            attempt += 1
            _ = machine.backOffEnded(now: now)
            _ = machine.admitted(Self.booking, stopping: false, now: now)
        }
        guard case .backOff = fail(displaced: true).next else {
            Issue.record("a displaced attempt is retried")
            return
        }
        again()
        guard case .backOff = fail(displaced: true).next else {
            Issue.record("the item's own retry is left")
            return
        }
        again()
        let end = ending(fail(displaced: true))
        #expect(end?.attempts == 3, "one free retry (as many as maxRetries) and one counted")
        #expect(attempt == 3)
        // Without displacement, one retry only.
        var plain = lifecycle(retries: 1)
        attempting(&plain)
        guard case .backOff = plain.failed(cut, stopping: false, unit: 0, now: .seconds(1)).next else {
            Issue.record("retried once")
            return
        }
        _ = plain.backOffEnded(now: .seconds(2))
        _ = plain.admitted(Self.booking, stopping: false, now: .seconds(2))
        #expect(ending(plain.failed(cut, stopping: false, unit: 0, now: .seconds(3)))?.attempts == 2)
    }

    @Test func aRetryableFailureReleasesBacksOffAndAsksTheQuotaAgain() {
        var machine = lifecycle()
        attempting(&machine)
        let failed = machine.failed(Self.overloaded, stopping: false, unit: 0.5, now: .seconds(1))
        #expect(
            failed
                == .init(
                    release: .init(reservation: Self.booking, outcome: .answered(usedTokens: nil, rateLimit: nil)),
                    next: .backOff(.seconds(1))
                )
        )
        #expect(machine.backOffEnded(now: .seconds(2)).next == .acquire(tokens: 100, deadline: nil))
        #expect(
            machine.admitted(Self.booking, stopping: false, now: .seconds(2)).next
                == .attempt(number: 2, timeout: .seconds(10))
        )
    }

    @Test func aPermanentErrorFinishesAtOnceAndStillReleases() {
        var machine = lifecycle()
        attempting(&machine)
        let action = machine.failed(Self.badRequest, stopping: false, unit: 0, now: .seconds(1))
        #expect(action.release?.reservation == Self.booking)
        #expect(ending(action)?.error == Self.badRequest)
        #expect(ending(action)?.attempts == 1)
    }

    @Test func a429PausesEveryoneForTheServersDelay() {
        var machine = lifecycle()
        attempting(&machine)
        var limited = Self.overloaded
        limited.status = 429
        limited.kind = .rateLimited
        limited.retryAfter = .seconds(7)
        let action = machine.failed(limited, stopping: false, unit: 0, now: .zero)
        #expect(action.pause == .seconds(7))
        #expect(action.next == .backOff(.seconds(7)))
    }

    @Test func a429LongerThanTheMaximumWaitStopsTheQuotaAndLeavesTheItemUndone() {
        var machine = lifecycle(maxWait: .seconds(120))
        attempting(&machine)
        var limited = Self.overloaded
        limited.status = 429
        limited.retryAfter = .seconds(3600)
        let action = machine.failed(limited, stopping: false, unit: 0, now: .zero)
        #expect(action.pause == .seconds(3600))
        #expect(action.release != nil)
        #expect(ending(action)?.error?.kind == .cancelled)
    }

    @Test func aStopDuringBackOffEndsTheItemUndone() {
        var machine = lifecycle()
        attempting(&machine)
        _ = machine.failed(Self.overloaded, stopping: false, unit: 0, now: .zero)
        let action = machine.stopped(now: .milliseconds(10))
        #expect(action.release == nil)  // released when the attempt failed
        #expect(ending(action)?.error?.kind == .cancelled)
        #expect(ending(action)?.attemptErrors == [Self.overloaded])
    }

    @Test func aStopDuringTheQuotaWaitEndsTheItemUnsent() {
        var machine = lifecycle()
        _ = machine.start(now: .zero)
        let action = machine.acquireFailed(StopRequested(), now: .seconds(1))
        #expect(action.release == nil)  // the quota gave back what it had booked
        #expect(ending(action)?.error?.kind == .cancelled)
        #expect(ending(action)?.attempts == 0 && ending(action)?.latency == .zero)
    }

    @Test func aStopBetweenAdmissionAndSendGivesTheProbeBack() {
        var machine = lifecycle()
        _ = machine.start(now: .zero)
        let action = machine.admitted(Self.probe, stopping: true, now: .zero)
        #expect(action.release == .init(reservation: Self.probe, outcome: .notSent))
        #expect(ending(action)?.error?.kind == .cancelled)
        #expect(ending(action)?.attempts == 0)
    }

    @Test func theProbeIsGivenBackWhenTheDeadlinePassedWhileWaitingForIt() {
        var machine = lifecycle(deadline: .seconds(5))
        attempting(&machine)
        _ = machine.failed(Self.refused, stopping: false, unit: 0, now: .seconds(1))
        // The retry asks the quota with the item's deadline.
        #expect(machine.backOffEnded(now: .seconds(2)).next == .acquire(tokens: 100, deadline: .seconds(5)))
        // Admitted with the probe exactly at the deadline: not sent, and the probe goes back.
        let action = machine.admitted(Self.probe, stopping: false, now: .seconds(5))
        #expect(action.release == .init(reservation: Self.probe, outcome: .notSent))
        #expect(ending(action)?.error?.message == "connection refused (item deadline of 5.0s reached)")
    }

    @Test func theDeadlineBetweenAttemptsEndsTheItem() {
        var machine = lifecycle(deadline: .seconds(5))
        attempting(&machine)
        // Fails at 4.5 s; the 1 s back-off would end after the deadline.
        let action = machine.failed(Self.overloaded, stopping: false, unit: 0, now: .seconds(4.5))
        #expect(ending(action)?.error?.message == "overloaded (item deadline of 5.0s reached)")
        // A quota wait that reaches the deadline ends the same way.
        var waiting = lifecycle(deadline: .seconds(5))
        attempting(&waiting)
        _ = waiting.failed(Self.overloaded, stopping: false, unit: 0, now: .seconds(1))
        _ = waiting.backOffEnded(now: .seconds(2))
        let reached = waiting.acquireFailed(DeadlineReached(), now: .seconds(5))
        #expect(ending(reached)?.error?.message == "overloaded (item deadline of 5.0s reached)")
        #expect(ending(reached)?.error?.isRetryable == false)
    }

    @Test func theAttemptTimeoutIsCutToWhatIsLeftOfTheDeadline() {
        var machine = lifecycle(deadline: .seconds(12))
        attempting(&machine)
        _ = machine.failed(Self.overloaded, stopping: false, unit: 0, now: .seconds(1))
        _ = machine.backOffEnded(now: .seconds(2))
        #expect(
            machine.admitted(Self.booking, stopping: false, now: .seconds(6)).next
                == .attempt(number: 2, timeout: .seconds(6))
        )
    }

    @Test func anExhaustedRetryBudgetEndsTheItemWithItsLastError() {
        var machine = lifecycle()
        attempting(&machine)
        _ = machine.failed(Self.overloaded, stopping: false, unit: 0, now: .zero)
        let action = machine.retryRefused(now: .zero)
        #expect(ending(action)?.error?.message == "overloaded (retry budget exhausted)")
        #expect(ending(action)?.error?.isRetryable == false)
    }

    @Test func aFailureWhileStoppingIsNotRetried() {
        var machine = lifecycle()
        attempting(&machine)
        let action = machine.failed(Self.overloaded, stopping: true, unit: 0, now: .zero)
        #expect(action.release != nil)
        #expect(ending(action)?.error?.kind == .cancelled)
    }

    @Test(arguments: [
        (ItemError(kind: .network, message: "refused", isRetryable: true), QuotaOutcome.connectionFailed),
        (ItemError.timedOut(after: .seconds(1)), QuotaOutcome.noAnswer),
        (ItemError.cancelled, QuotaOutcome.noAnswer),
        (ItemError(kind: .invalidInput, message: "bad url", isRetryable: false), QuotaOutcome.notSent),
        (
            ItemError(kind: .httpStatus, status: 500, message: "boom", isRetryable: true),
            QuotaOutcome.answered(usedTokens: nil, rateLimit: nil)
        ),
    ])
    func eachFailureTellsTheQuotaWhatHappened(error: ItemError, outcome: QuotaOutcome) {
        var machine = lifecycle()
        attempting(&machine, reservation: Self.probe)
        let action = machine.failed(error, stopping: false, unit: 0, now: .seconds(1))
        #expect(action.release == .init(reservation: Self.probe, outcome: outcome))
    }

    @Test func aCancelledAttemptEndsTheItem() {
        var machine = lifecycle()
        attempting(&machine)
        let action = machine.failed(.cancelled, stopping: false, unit: 0, now: .seconds(1))
        #expect(ending(action)?.error == .cancelled)
    }

    /// A routed attempt stopped while it waited for a deployment never went out: it is not a
    /// request, kept no one busy, and its booking goes back unsent.
    @Test func anAttemptThatEndedBeforeItWasSentIsNotARequest() {
        var machine = lifecycle()
        attempting(&machine)
        let action = machine.failed(.notSent("the batch is stopping"), stopping: true, unit: 0, now: .seconds(1))
        #expect(ending(action)?.attempts == 0)
        #expect(ending(action)?.busy == .zero)
        #expect(action.release == .init(reservation: Self.booking, outcome: .notSent))
    }
}

/// The breaker's probe is taken only by a request that will be sent.
@Suite struct BreakerProbeTests {
    /// Five connection failures open the breaker; the pacing horizon then says "later" just as
    /// the cooldown ends. The probe must not be spent on that answer (it was, and every
    /// later caller waited for a probe that never came: the batch hung after an outage).
    @Test func aProbeIsNotSpentOnAWait() {
        var state = QuotaStateMachine(
            limits: RateLimits(
                requestsPerMinute: 30,
                burst: .milliseconds(100),
                headroom: 0,
                burstReserve: 0,
                learnFromServer: false
            ),
            breaker: CircuitBreaker(threshold: 1, cooldown: 1)
        )
        #expect(state.admit(tokens: 0, now: 0) == .admit(at: 0, probe: false))
        state.release(tokens: 0, probe: false, outcome: .connectionFailed, now: 0.1)
        #expect(state.breaker.state == .open(until: 1.1, cooldown: 1))
        // Cooldown over, but the next request slot is at 2 s: wait, breaker still open.
        #expect(state.admit(tokens: 0, now: 1.1) == .wait(until: 1.9))
        #expect(state.breaker.state == .open(until: 1.1, cooldown: 1))
        // Closer to the slot: this one is the probe.
        #expect(state.admit(tokens: 0, now: 1.9) == .admit(at: 2, probe: true))
        #expect(state.breaker.state == .halfOpen(cooldown: 1))
        // The probe failed: open again, twice as long; then the next probe succeeds and closes it.
        state.release(tokens: 0, probe: true, outcome: .connectionFailed, now: 2)
        #expect(state.breaker.state == .open(until: 4, cooldown: 2))
        #expect(state.admit(tokens: 0, now: 4) == .admit(at: 4, probe: true))
        state.release(tokens: 0, probe: true, outcome: .answered(usedTokens: nil, rateLimit: nil), now: 4.1)
        #expect(state.breaker.state == .closed(failures: 0))
        #expect(state.admit(tokens: 0, now: 6) == .admit(at: 6, probe: false))
    }

    /// A request sent before the breaker opened ends while it is half-open: it says nothing
    /// about the server now, and must neither close the breaker nor take the probe's place.
    @Test func onlyTheProbeDecidesAHalfOpenBreaker() {
        var state = QuotaStateMachine(
            limits: RateLimits(learnFromServer: false),
            breaker: CircuitBreaker(threshold: 1, cooldown: 1)
        )
        state.release(tokens: 0, probe: false, outcome: .connectionFailed, now: 0)
        #expect(state.admit(tokens: 0, now: 1) == .admit(at: 1, probe: true))
        state.release(tokens: 0, probe: false, outcome: .answered(usedTokens: nil, rateLimit: nil), now: 1.5)
        #expect(state.breaker.state == .halfOpen(cooldown: 1))
        // A probe abandoned (its item stopped) lets the next caller probe at once.
        state.release(tokens: 0, probe: true, outcome: .notSent, now: 1.6)
        #expect(state.admit(tokens: 0, now: 1.6) == .admit(at: 1.6, probe: true))
    }
}
