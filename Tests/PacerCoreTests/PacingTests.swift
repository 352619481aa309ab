import Clocks
import Synchronization
import Testing

@testable import PacerCore

@Suite struct TokenBucketTests {
    @Test func admissionTimesOf100RequestsAt600RPMWithBurst10AreTheGCRASchedule() {
        var state = QuotaStateMachine(
            limits: RateLimits(
                requestsPerMinute: 600,
                burst: .seconds(1),
                headroom: 0,
                burstReserve: 0,
                learnFromServer: false
            )
        )
        // All 100 ask at once; a caller told to wait asks again at the time given.
        let times = (0..<100).map { _ -> Double in
            var now = 0.0
            while true {
                switch state.admit(tokens: 0, now: now) {
                case .admit(let at, _): return at
                case .wait(let until?): now = until
                default: return -1
                }
            }
        }
        // GCRA: emission interval T = 0.1 s, tolerance τ = 9 T: the first 10 at once, then one every T.
        let expected = (0..<100).map { max(0, Double($0) * 0.1 - 0.9) }
        for (time, want) in zip(times, expected) {
            #expect(abs(time - want) < 1e-9)
        }
    }

    @Test func headroomPacesSlightlyUnderTheLimit() {
        var bucket = RateLimits(requestsPerMinute: 600, headroom: 0.02).bucket(perMinute: 600, now: 0)
        #expect(abs(bucket.rate - 9.8) < 1e-9)
        let last = (0..<600).map { _ in bucket.reserve(1, now: 0) }.last ?? 0
        #expect(last > 60 && last < 61)
    }

    @Test func theDefaultBurstKeepsOneRequestInReserve() {
        // 600 RPM at 98% = 9.8 a second; one kept back: 8 go at once, the 9th 0.02 s later.
        var state = QuotaStateMachine(limits: RateLimits(requestsPerMinute: 600, learnFromServer: false))
        let times = (0..<10).map { _ -> Double in
            if case .admit(let at, _) = state.admit(tokens: 0, now: 0) { return at }
            return -1
        }
        #expect(times.prefix(8).allSatisfy { $0 == 0 })
        #expect(abs(times[8] - 0.2 / 9.8) < 1e-9)
    }

    @Test func tokenReservationsAreSettledExactly() {
        // 6000 TPM = 100 tokens/s, burst 100 tokens.
        var state = QuotaStateMachine(limits: RateLimits(tokensPerMinute: 6000, headroom: 0, learnFromServer: false))
        do {
            let outcome = state.admit(tokens: 60, now: 0)
            #expect(outcome.admitted(at: 0))
        }
        // 60 in use: a second 60 must wait until 20 have drained (0.2 s).
        do {
            let outcome = state.admit(tokens: 60, now: 0)
            #expect(outcome.admitted(at: 0.2))
        }
        let level = state.tokens!.level(at: 0)
        #expect(abs(level - 120) < 1e-9)
        // The first request really used 30: 30 refunded.
        state.settle(reserved: 60, used: 30)
        #expect(abs(state.tokens!.level(at: 0) - 90) < 1e-9)
        // The second used 75: 15 charged on top.
        state.settle(reserved: 60, used: 75)
        #expect(abs(state.tokens!.level(at: 0) - 105) < 1e-9)
        // A failed request is refunded whole.
        _ = state.admit(tokens: 50, now: 2)
        state.settle(reserved: 50, used: nil)
        #expect(state.tokens!.level(at: 2) < 1e-9)
    }

    @Test func aRequestLargerThanTheWholeTokenLimitIsRejectedAtOnce() {
        var state = QuotaStateMachine(limits: RateLimits(tokensPerMinute: 30_000, learnFromServer: false))
        guard case .reject(let reason) = state.admit(tokens: 31_538, now: 0) else {
            Issue.record("expected a rejection")
            return
        }
        #expect(reason.contains("30000"))
        // Larger than the burst but within the limit: admitted, when the bucket is empty.
        do {
            let outcome = state.admit(tokens: 5_000, now: 0)
            #expect(outcome.admitted(at: 0))
        }
    }

    @Test func serverHeadersSetTheLimitsWhenNoneAreConfigured() {
        var state = QuotaStateMachine(limits: RateLimits(headroom: 0))
        #expect(state.requests == nil)
        state.observe(RateLimitSnapshot(requestLimit: 120, tokenLimit: 60_000), connectionFailed: false, now: 0)
        #expect(state.requests?.rate == 2)
        #expect(state.tokens?.rate == 1000)
        #expect(state.tokenLimit == 60_000)
        // Configured limits are not overridden.
        var configured = QuotaStateMachine(limits: RateLimits(requestsPerMinute: 60, headroom: 0))
        configured.observe(RateLimitSnapshot(requestLimit: 6000), connectionFailed: false, now: 0)
        #expect(configured.requests?.rate == 1)
    }

    @Test func lowRemainingSlowsAdmissionAndZeroRemainingPausesUntilTheReset() {
        var state = QuotaStateMachine(
            limits: RateLimits(requestsPerMinute: 600, headroom: 0, burstReserve: 0, learnFromServer: false)
        )
        state.observe(RateLimitSnapshot(remainingRequests: 2), connectionFailed: false, now: 0)
        do {
            let outcome = state.admit(tokens: 0, now: 0)
            #expect(outcome.admitted(at: 0))
        }
        do {
            let outcome = state.admit(tokens: 0, now: 0)
            #expect(outcome.admitted(at: 0))
        }
        do {
            let outcome = state.admit(tokens: 0, now: 0)
            #expect(outcome.admitted(at: 0.1))
        }
        // None left: the next request waits one emission interval (not the full reset).
        state.observe(
            RateLimitSnapshot(remainingRequests: 0, resetRequests: .seconds(3)),
            connectionFailed: false,
            now: 1
        )
        do {
            let outcome = state.admit(tokens: 0, now: 1)
            #expect(outcome.admitted(at: 1.1))
        }
        // With no known limit, none left pauses until the reset.
        var unknown = QuotaStateMachine(limits: RateLimits())
        unknown.observe(
            RateLimitSnapshot(remainingRequests: 0, resetRequests: .seconds(3)),
            connectionFailed: false,
            now: 1
        )
        do {
            let outcome = unknown.admit(tokens: 0, now: 1)
            #expect(outcome == .wait(until: 4))
        }
    }

    @Test func theFirstRequestGoesAloneWhileLimitsAreBeingLearned() {
        var state = QuotaStateMachine(limits: RateLimits(probeFirst: true))
        do {
            let outcome = state.admit(tokens: 0, now: 0)
            #expect(outcome.admitted(at: 0))
        }
        do {
            let outcome = state.admit(tokens: 0, now: 0)
            #expect(outcome == .wait(until: nil))
        }
        state.observe(RateLimitSnapshot(requestLimit: 60), connectionFailed: false, now: 0.5)
        guard case .admit = state.admit(tokens: 0, now: 0.5) else {
            Issue.record("expected admission once the server answered")
            return
        }
    }

    @Test func aProbeThatFailsOrIsAbandonedDoesNotBlockTheOthers() {
        var state = QuotaStateMachine(limits: RateLimits(probeFirst: true))
        do {
            let outcome = state.admit(tokens: 0, now: 0)
            #expect(outcome.admitted(at: 0))
        }
        // The probe's connection was refused: the next request may go (and probes again).
        state.release(tokens: 0, probe: true, outcome: .connectionFailed, now: 0.1)
        do {
            let outcome = state.admit(tokens: 0, now: 0.1)
            #expect(outcome.admitted(at: 0.1))
        }
        do {
            let outcome = state.admit(tokens: 0, now: 0.1)
            #expect(outcome == .wait(until: nil))
        }
        // That probe's caller was cancelled before sending: again the next may go.
        state.release(tokens: 0, probe: true, outcome: .notSent, now: 0.2)
        do {
            let outcome = state.admit(tokens: 0, now: 0.2)
            #expect(outcome.admitted(at: 0.2))
        }
    }

    @Test func aWaitLongerThanTheMaximumStopsAdmission() {
        var state = QuotaStateMachine(limits: RateLimits(maxWait: .seconds(120)))
        do {
            let outcome = state.pause(until: 60, now: 0)
            #expect(outcome)
        }
        do {
            let outcome = state.admit(tokens: 0, now: 10)
            #expect(outcome == .wait(until: 60))
        }
        do {
            let outcome = state.pause(until: 3610, now: 10)
            #expect(outcome == false)
        }
        do {
            let outcome = state.admit(tokens: 0, now: 70)
            #expect(outcome == .stop(until: 3610))
        }
        #expect(state.pausedSeconds == 60)
    }
}

@Suite struct RetryBudgetTests {
    @Test func retriesAreCappedAtTheirShareOfRequestsPlusTheFloor() {
        var budget = RetryBudget(ratio: 0.2, minimumPerSecond: 1, maxBalance: 100, initial: 0)
        for _ in 0..<100 { budget.recordRequest(now: 0) }
        let allowed = (0..<100).filter { _ in budget.tryRetry(now: 0) }.count
        #expect(allowed == 20)
        // The floor accrues with time: 5 s later, 5 more.
        let later = (0..<100).filter { _ in budget.tryRetry(now: 5) }.count
        #expect(later == 5)
    }
}

@Suite struct CircuitBreakerTests {
    @Test func opensAfterConsecutiveConnectionFailuresProbesAndCloses() {
        var breaker = CircuitBreaker(threshold: 3, cooldown: 1, maxCooldown: 4)
        breaker.record(connectionFailed: true, probe: false, now: 0)
        breaker.record(connectionFailed: false, probe: false, now: 0)  // a success resets the count
        for _ in 0..<3 { breaker.record(connectionFailed: true, probe: false, now: 1) }
        do {
            let outcome = breaker.permission(now: 1.5)
            #expect(outcome == .wait(until: 2))
        }
        do {
            let outcome = breaker.permission(now: 2)
            #expect(outcome == .probe)
        }
        do {
            let outcome = breaker.permission(now: 2)
            #expect(outcome == .wait(until: nil))
        }
        breaker.record(connectionFailed: true, probe: true, now: 2.1)  // the probe failed: twice the cooldown
        do {
            let outcome = breaker.permission(now: 3)
            #expect(outcome == .wait(until: 4.1))
        }
        do {
            let outcome = breaker.permission(now: 4.1)
            #expect(outcome == .probe)
        }
        breaker.record(connectionFailed: false, probe: true, now: 4.2)
        do {
            let outcome = breaker.permission(now: 4.2)
            #expect(outcome == .pass)
        }
    }

    /// `trip(until:)` (another process's breaker opened): table of the state before, the
    /// time tripped to, and the state after.
    @Test(arguments: [
        // Closed: opens until then, with its own first cooldown.
        (CircuitBreaker.State.closed(failures: 2), 5.0, CircuitBreaker.State.open(until: 5, cooldown: 1)),
        // Open: the later of the two times, keeping its cooldown.
        (.open(until: 3, cooldown: 2), 5.0, .open(until: 5, cooldown: 2)),
        (.open(until: 8, cooldown: 4), 5.0, .open(until: 8, cooldown: 4)),
        // Half-open: its own probe decides.
        (.halfOpen(cooldown: 2), 5.0, .halfOpen(cooldown: 2)),
    ])
    func tripOpensUntilTheLaterTimeAndLeavesAProbeAlone(
        before: CircuitBreaker.State,
        until: Double,
        after: CircuitBreaker.State
    ) {
        var breaker = CircuitBreaker(threshold: 3, cooldown: 1, maxCooldown: 4)
        breaker.force(before)
        breaker.trip(until: until)
        #expect(breaker.state == after)
    }

    @Test func aTrippedBreakerProbesOnceAfterTheCooldownAndDoublesFromItsOwnCooldown() {
        var breaker = CircuitBreaker(threshold: 3, cooldown: 1, maxCooldown: 4)
        breaker.trip(until: 2)
        #expect(breaker.permission(now: 1) == .wait(until: 2))
        #expect(breaker.permission(now: 2) == .probe)
        #expect(breaker.permission(now: 2) == .wait(until: nil))
        breaker.record(connectionFailed: true, probe: true, now: 2.5)
        #expect(breaker.state == .open(until: 4.5, cooldown: 2))
    }
}

@Suite struct QuotaTests {
    @Test func a429WithRetryAfterHoldsEveryWorker() async throws {
        let clock = TrackedClock()
        let quota = Quota(limits: RateLimits(learnFromServer: false), clock: clock)
        #expect(quota.pause(for: .seconds(2)))
        let admitted = Counter()
        let workers = Task {
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<5 {
                    group.addTask {
                        _ = try? await quota.acquire()
                        admitted.increment()
                    }
                }
            }
        }
        // All five are waiting on the pause (not merely not started yet).
        await clock.waitForSleepers(5)
        await clock.advance(by: .milliseconds(1999))
        await clock.waitForSleepers(5)
        #expect(admitted.value == 0)
        await clock.advance(by: .milliseconds(1))
        await workers.value
        #expect(admitted.value == 5)
        #expect(quota.pausedSeconds == 2)
    }

    @Test func acquireIsCancellable() async throws {
        let clock = TrackedClock()
        let quota = Quota(limits: RateLimits(learnFromServer: false), clock: clock)
        quota.pause(for: .seconds(60))
        let waiter = Task { try await quota.acquire() }
        await clock.waitForSleepers(1)
        await clock.advance(by: .seconds(1))
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
    }

    @Test func aStoppedLimiterThrowsWithTheWait() async throws {
        let quota = Quota(limits: RateLimits(maxWait: .seconds(120)), clock: TestClock())
        #expect(quota.pause(for: .seconds(3600)) == false)
        let stop = await #expect(throws: RateLimitStop.self) { try await quota.acquire() }
        #expect(stop?.wait == .seconds(3600))
        #expect(quota.isStopped)
    }
}

extension QuotaStateMachine.Decision {
    /// Whether this admits at `time`, to within floating-point error.
    func admitted(at time: Double) -> Bool {
        if case .admit(let at, _) = self { return abs(at - time) < 1e-9 }
        return false
    }
}
