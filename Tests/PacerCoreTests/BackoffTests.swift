import PacerCore
import Testing

@Suite struct BackoffTests {
    @Test(arguments: [(0, 1.0), (1, 2.0), (2, 4.0), (3, 8.0), (5, 32.0), (6, 60.0), (40, 60.0), (10_000, 60.0)])
    func ceilingIsBaseTimesMultiplierToTheNCappedAtTheCap(retry: Int, seconds: Double) {
        let backoff = Backoff(base: .seconds(1), multiplier: 2, cap: .seconds(60), jitter: .none)
        #expect(backoff.ceiling(forRetry: retry) == .pacerSeconds(seconds))
        #expect(backoff.delay(forRetry: retry, previous: nil, unit: 0.37) == .pacerSeconds(seconds))
    }

    @Test(arguments: 0..<8)
    func fullJitterStaysWithinZeroAndTheCeiling(retry: Int) {
        let backoff = Backoff(base: .milliseconds(500), multiplier: 3, cap: .seconds(30), jitter: .full)
        let ceiling = backoff.ceiling(forRetry: retry)
        #expect(backoff.delay(forRetry: retry, previous: nil, unit: 0) == .zero)
        let high = backoff.delay(forRetry: retry, previous: nil, unit: 0.999_999)
        #expect(high <= ceiling && high > ceiling * 0.99)
        #expect(backoff.delay(forRetry: retry, previous: nil, unit: 0.5) == .pacerSeconds(ceiling.pacerSeconds * 0.5))
    }

    @Test func equalJitterKeepsAtLeastHalfTheCeiling() {
        let backoff = Backoff(base: .seconds(2), jitter: .equal)
        #expect(backoff.delay(forRetry: 1, previous: nil, unit: 0) == .seconds(2))
        #expect(backoff.delay(forRetry: 1, previous: nil, unit: 0.5) == .seconds(3))
    }

    @Test func decorrelatedJitterGrowsFromThePreviousDelayAndStopsAtTheCap() {
        let backoff = Backoff(base: .seconds(1), cap: .seconds(10), jitter: .decorrelated)
        #expect(backoff.delay(forRetry: 0, previous: nil, unit: 0) == .seconds(1))
        #expect(backoff.delay(forRetry: 3, previous: .seconds(2), unit: 0.5) == .seconds(3.5))
        #expect(backoff.delay(forRetry: 9, previous: .seconds(9), unit: 0.99) == .seconds(10))
    }

    @Test func seededRandomSourcesRepeatTheirSequence() {
        let a = RandomSource.seeded(7)
        let b = RandomSource.seeded(7)
        let c = RandomSource.seeded(8)
        let first = (0..<5).map { _ in a.nextUnit() }
        #expect(first == (0..<5).map { _ in b.nextUnit() })
        #expect(first != (0..<5).map { _ in c.nextUnit() })
        #expect(first.allSatisfy { (0..<1).contains($0) })
    }

    @Test func retryPolicyPrefersTheServersDelayAndStopsAtMaxRetries() {
        let policy = RetryPolicy(maxRetries: 2, backoff: Backoff(base: .seconds(1), jitter: .none))
        var error = retryable
        #expect(
            policy.decide(after: error, retriesSoFar: 1, previousDelay: nil, unit: 0.5) == .retry(after: .seconds(2))
        )
        error.retryAfter = .seconds(7)
        #expect(
            policy.decide(after: error, retriesSoFar: 0, previousDelay: nil, unit: 0.5) == .retry(after: .seconds(7))
        )
        #expect(policy.decide(after: error, retriesSoFar: 2, previousDelay: nil, unit: 0.5) == .giveUp)
        #expect(policy.decide(after: permanent, retriesSoFar: 0, previousDelay: nil, unit: 0.5) == .giveUp)
    }

    /// `retry-after: 0` is no licence to hammer the server: the usual back-off applies.
    @Test(arguments: [0, 1, 3])
    func aRetryAfterOfZeroBacksOffAsUsual(retriesSoFar: Int) {
        let policy = RetryPolicy(maxRetries: 5, backoff: Backoff(base: .seconds(1), jitter: .none))
        var error = retryable
        error.retryAfter = .zero
        let expected = Duration.seconds(1 << retriesSoFar)
        #expect(
            policy.decide(after: error, retriesSoFar: retriesSoFar, previousDelay: nil, unit: 0.5)
                == .retry(after: expected)
        )
    }
}
