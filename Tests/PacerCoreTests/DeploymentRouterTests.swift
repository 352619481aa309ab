import Clocks
import Testing

@testable import PacerCore

/// Routes (issue 22): which deployment a request goes to, and how a failing one is left out
/// and probed again; the shell on a test clock.
@Suite struct DeploymentRouterTests {
    typealias Machine = DeploymentRouterStateMachine

    @Test func theSoonestStartWinsAndTiesGoToTheLeastLoadedForItsWeight() {
        var machine = Machine([.init(limit: 4, weight: 1), .init(limit: 4, weight: 1), .init(limit: 4, weight: 3)])
        #expect(machine.choose([(0, .milliseconds(200)), (1, .milliseconds(50)), (2, .seconds(1))], now: 0) == 1)
        // Within a millisecond is a tie: the lowest in flight per weight.
        machine.take(0, now: 0)
        #expect(machine.choose([(0, .zero), (1, .microseconds(500))], now: 0) == 1)
        machine.take(1, now: 0)
        machine.take(2, now: 0)
        // 1/1, 1/1 and 1/3 in flight per weight: the heavier one takes the next.
        #expect(machine.choose([(0, .zero), (1, .zero), (2, .zero)], now: 0) == 2)
        // A quota that can never take it (nil) or a full deployment is passed over.
        #expect(machine.choose([(0, nil), (1, .zero)], now: 0) == 1)
        for _ in 0..<3 { machine.take(1, now: 0) }
        #expect(machine.choose([(1, .zero)], now: 0) == nil)
    }

    @Test func aCooledDownDeploymentComesBackWithOneProbe() {
        var machine = Machine([.init(limit: 8, weight: 1), .init(limit: 8, weight: 1)])
        machine.take(0, now: 0)
        machine.finished(0, verdict: .coolDown(seconds: 60), now: 1)
        #expect(machine.choose([(0, .zero), (1, .seconds(5))], now: 30) == 1, "left out while it cools down")
        #expect(machine.choose([(0, .zero), (1, .seconds(5))], now: 61) == 0, "back after its cooldown")
        machine.take(0, now: 61)
        #expect(machine.choose([(0, .zero), (1, .seconds(5))], now: 61) == 1, "one probe at a time")
        machine.finished(0, verdict: .none, now: 62)
        machine.take(0, now: 62)
        machine.take(0, now: 62)
        #expect(machine.deployments[0].inFlight == 2, "healthy again: it takes its concurrency")
        // A probe that fails cools it down again.
        var failing = Machine([.init(limit: 8, weight: 1)])
        failing.take(0, now: 0)
        failing.finished(0, verdict: .coolDown(seconds: 10), now: 0)
        failing.take(0, now: 10)
        failing.finished(0, verdict: .coolDown(seconds: 10), now: 11)
        #expect(failing.choose([(0, .zero)], now: 15) == nil)
        #expect(failing.anyUsable([0], now: 15) == false)
        #expect(failing.anyUsable([0], now: 21))
    }

    @Test(arguments: [
        (
            ItemError(kind: .httpStatus, status: 401, message: "", isRetryable: false),
            Machine.Verdict.coolDown(seconds: 60)
        ),
        (ItemError(kind: .httpStatus, status: 403, message: "", isRetryable: false), .coolDown(seconds: 60)),
        // insufficient_quota: a 429 no wait cures.
        (ItemError(kind: .rateLimited, status: 429, message: "", isRetryable: false), .coolDown(seconds: 60)),
        (
            ItemError(kind: .rateLimited, status: 429, message: "", isRetryable: true, retryAfter: .seconds(30)),
            .coolDown(seconds: 30)
        ),
        (ItemError(kind: .rateLimited, status: 429, message: "", isRetryable: true, retryAfter: .seconds(2)), .none),
        (ItemError(kind: .httpStatus, status: 500, message: "", isRetryable: true), .none),
        (ItemError(kind: .httpStatus, status: 400, message: "", isRetryable: false), .none),
    ])
    func whatAFailureSaysAboutItsDeployment(_ failure: ItemError, _ verdict: Machine.Verdict) {
        #expect(Machine.verdict(for: failure, cooldown: 60, longWait: 10) == verdict)
    }

    @Test func theShellLeavesAFailedDeploymentOutUntilItsCooldownThenProbesIt() async throws {
        let clock = TestClock()
        func quota() -> Quota<TestClock<Duration>> {
            Quota(limits: RateLimits(learnFromServer: false), retryBudget: nil, clock: clock)
        }
        let router = DeploymentRouter(
            deployments: [
                .init(name: "a", quota: quota(), concurrency: 1), .init(name: "b", quota: quota(), concurrency: 1),
            ],
            cooldown: 60,
            clock: clock
        )
        let first = try await router.lease(among: [0, 1], tokens: 0)
        let second = try await router.lease(among: [0, 1], tokens: 0)
        #expect([first.index, second.index] == [0, 1], "a full deployment passes the next to the other")
        let refused = ItemError(kind: .httpStatus, status: 401, message: "bad key", isRetryable: false)
        router.finish(first, outcome: .answered(usedTokens: nil, rateLimit: nil), failure: refused)
        #expect(router.hasAlternative(to: 0, among: [0, 1]))
        router.finish(second, outcome: .answered(usedTokens: 10, rateLimit: nil), failure: nil)
        for _ in 0..<3 {
            let lease = try await router.lease(among: [0, 1], tokens: 0)
            #expect(lease.index == 1, "a is cooling down")
            router.finish(lease, outcome: .answered(usedTokens: 10, rateLimit: nil), failure: nil)
        }
        await clock.advance(by: .seconds(60))
        let probe = try await router.lease(among: [0, 1], tokens: 0)
        #expect(probe.index == 0, "a comes back with one probe")
        let meanwhile = try await router.lease(among: [0, 1], tokens: 0)
        #expect(meanwhile.index == 1)
        router.finish(probe, outcome: .answered(usedTokens: 10, rateLimit: nil), failure: nil)
        router.finish(meanwhile, outcome: .answered(usedTokens: 10, rateLimit: nil), failure: nil)
        let tallies = router.tallies
        #expect(tallies.map(\.requests) == [2, 5])
        #expect(tallies.map(\.cooldowns) == [1, 0])
        #expect(tallies.map(\.failed) == [1, 0])
    }

    @Test func aRequestWaitingForRoomTakesTheFirstSlotARequestEndingFrees() async throws {
        let clock = TestClock()
        func quota() -> Quota<TestClock<Duration>> {
            Quota(limits: RateLimits(learnFromServer: false), retryBudget: nil, clock: clock)
        }
        let router = DeploymentRouter(
            deployments: [
                .init(name: "a", quota: quota(), concurrency: 1), .init(name: "b", quota: quota(), concurrency: 1),
            ],
            clock: clock
        )
        let first = try await router.lease(among: [0, 1], tokens: 0)
        let second = try await router.lease(among: [0, 1], tokens: 0)
        // Both full: the third waits, without the clock moving, until one ends.
        let third = Task { try await router.lease(among: [0, 1], tokens: 0) }
        for _ in 0..<50 { await Task.yield() }
        router.finish(second, outcome: .answered(usedTokens: 0, rateLimit: nil), failure: nil)
        let lease = try await third.value
        #expect(lease.index == second.index)
        // A waiter that is cancelled ends at once.
        let fourth = Task { try await router.lease(among: [0, 1], tokens: 0) }
        for _ in 0..<50 { await Task.yield() }
        fourth.cancel()
        await #expect(throws: CancellationError.self) { try await fourth.value }
        router.finish(first, outcome: .answered(usedTokens: 0, rateLimit: nil), failure: nil)
        router.finish(lease, outcome: .answered(usedTokens: 0, rateLimit: nil), failure: nil)
    }

    @Test func aRequestWaitingForRoomEndsUnsentWhenTheBatchStops() async throws {
        let clock = TestClock()
        let router = DeploymentRouter(
            deployments: [
                .init(
                    name: "a",
                    quota: Quota(limits: RateLimits(learnFromServer: false), retryBudget: nil, clock: clock),
                    concurrency: 1
                )
            ],
            clock: clock
        )
        let control = BatchControl()
        let busy = try await router.lease(among: [0], tokens: 0)
        let waiting = Task {
            try await BatchControl.$current.withValue(control) { try await router.lease(among: [0], tokens: 0) }
        }
        for _ in 0..<50 { await Task.yield() }
        // Ctrl-C: the batch stops admitting; the request on the wire ends and frees its room,
        // but the waiting one is not sent.
        control.stopAdmitting()
        router.finish(busy, outcome: .answered(usedTokens: 0, rateLimit: nil), failure: nil)
        let stopped = await #expect(throws: ItemError.self) { try await waiting.value }
        #expect(stopped?.kind == .cancelled)
        #expect(stopped?.wasSent == false, "not counted as a request by the engine")
        #expect(router.tallies[0].requests == 1)
        // A request that comes to the router after the stop is not sent either.
        await #expect(throws: ItemError.self) {
            try await BatchControl.$current.withValue(control) { try await router.lease(among: [0], tokens: 0) }
        }
    }
}
