import PacerCore
import PacerMetrics
import PacerTesting
import Prometheus
import Synchronization
import Testing

/// ``RunMetrics`` fed by a real ``BatchRunner``: at the end of a run its counters are the
/// summary's, whatever mix of successes, retries, 429s, failures and stops the run had.
@Suite struct RunMetricsTests {
    @Test func countersEndAtTheSummaryOfARunWithRetriesFailuresAnd429s() async throws {
        let registry = PrometheusCollectorRegistry()
        let progress = BatchProgress()
        let metrics = RunMetrics(
            factory: RunMetrics.prometheusFactory(registry: registry),
            progress: progress,
            concurrency: 4
        )
        let runner = BatchRunner(
            configuration: BatchConfiguration(
                maxConcurrent: 4,
                retry: RetryPolicy(maxRetries: 2, backoff: Backoff(base: .milliseconds(1), cap: .milliseconds(2))),
                pacing: RateLimits(learnFromServer: false),
                retryBudget: nil
            )
        )
        let items = (0..<40).map { BatchItem(index: $0, id: String($0 + 1), input: $0) }
        let summary = try await runner.run(AsyncArray(items), operation: Scripted(), progress: progress) {
            _,
            result in
            metrics.record(result)
        }
        let text = MetricsScrape(registry: registry, metrics: metrics)

        #expect(summary.succeeded > 0 && summary.failed > 0 && summary.rateLimitedResponses > 0 && summary.retries > 0)
        #expect(text[.itemsSucceeded] == Double(summary.succeeded))
        #expect(text.sum(.itemsFailed) == Double(summary.failed))
        #expect(text[.itemsCancelled] == Double(summary.cancelled))
        #expect(text.sum(.attempts) == Double(summary.requests))
        #expect(text[.rateLimitedResponses] == Double(summary.rateLimitedResponses))
        #expect(text[.retries] == Double(summary.retries))
        #expect(text[.tokens, "type", "prompt"] == Double(summary.tokens.prompt))
        #expect(text[.tokens, "type", "completion"] == Double(summary.tokens.completion))
        #expect(text[.cost] == summary.costUSD)
        #expect(text[.quotaPausedSeconds] == summary.pausedSeconds)
        #expect(summary.pausedSeconds > 0, "a 429 with Retry-After pauses the quota")
        // Item 3k+1 fails on a 400 at once; every item whose index is a multiple of 5 meets a 429 first.
        #expect(text[.itemsFailed, "kind", "http_status"] == Double(summary.failed))
        #expect(text[.itemsFailed, "kind", "timeout"] == 0, "every kind is there from the start")
        #expect(text[.attempts, "outcome", "rate_limited"] == Double(summary.rateLimitedResponses))
        #expect(text[.attempts, "outcome", "success"] == Double(summary.succeeded))
        #expect(text.histogramCount(.itemLatency) == Double(summary.succeeded + summary.failed))
        #expect(text.histogramCount(.timeToFirstToken) == Double(summary.succeeded))
        #expect(text[.itemsInFlight] == 0)
        #expect(text[.concurrencyLimit] == 4)
    }

    @Test func aResultMayEndSeveralItemsOrNone() throws {
        let registry = PrometheusCollectorRegistry()
        let metrics = RunMetrics(
            factory: RunMetrics.prometheusFactory(registry: registry),
            progress: nil,
            concurrency: 2
        )
        let refused = ItemError(kind: .httpStatus, status: 400, message: "too long", isRetryable: false)
        let split = ItemResult<Answer>(
            index: 0,
            id: "1",
            outcome: .failure(refused),
            attempts: 1,
            attemptErrors: [refused],
            latency: .seconds(1)
        )
        metrics.record(split, items: 0)
        metrics.record(
            ItemResult(index: 1, id: "2", outcome: .success(Answer()), attempts: 1, attemptErrors: [], latency: .zero),
            items: 5
        )
        metrics.recordFailed(.invalidInput, items: 2)
        let text = MetricsScrape(registry: registry, metrics: metrics)
        #expect(text[.itemsSucceeded] == 5)
        #expect(text.sum(.itemsFailed) == 2)
        #expect(text[.itemsFailed, "kind", "invalid_input"] == 2)
        #expect(text.sum(.attempts) == 2, "the split request was sent all the same")
        #expect(text[.concurrencyLimit] == 2)
    }

    @Test func aQuotaRefusalIsNoAttempt() {
        let registry = PrometheusCollectorRegistry()
        let metrics = RunMetrics(
            factory: RunMetrics.prometheusFactory(registry: registry),
            progress: nil,
            concurrency: 1
        )
        let refusal = ItemError(kind: .rateLimited, message: "can never fit", isRetryable: false)
        metrics.record(
            ItemResult<Answer>(
                index: 0,
                id: "1",
                outcome: .failure(refusal),
                attempts: 0,
                attemptErrors: [refusal],
                latency: .zero
            )
        )
        let text = MetricsScrape(registry: registry, metrics: metrics)
        #expect(text[.itemsFailed, "kind", "rate_limited"] == 1)
        #expect(text.sum(.attempts) == 0)
        #expect(text[.rateLimitedResponses] == 0)
        #expect(text.histogramCount(.itemLatency) == 0, "never sent: no latency")
    }

    @Test func runsInOneProcessKeepTheirOwnCounts() {
        let first = PrometheusCollectorRegistry()
        let second = PrometheusCollectorRegistry()
        let a = RunMetrics(factory: RunMetrics.prometheusFactory(registry: first), progress: nil, concurrency: 1)
        let b = RunMetrics(factory: RunMetrics.prometheusFactory(registry: second), progress: nil, concurrency: 1)
        a.recordFailed(.network, items: 3)
        b.recordFailed(.network)
        #expect(MetricsScrape(registry: first, metrics: a)[.itemsFailed, "kind", "network"] == 3)
        #expect(MetricsScrape(registry: second, metrics: b)[.itemsFailed, "kind", "network"] == 1)
    }
}

/// An answer with tokens, a cost and a stream timing.
struct Answer: MeteredOutput {
    var tokenUsage: TokenUsage? { TokenUsage(prompt: 7, completion: 3) }
    var costUSD: Double? { 0.25 }
    var streamTiming: StreamTiming? {
        StreamTiming(timeToFirstToken: .milliseconds(30), timeToLastToken: .milliseconds(90), tokenChunks: 3)
    }
}

/// Items 3k+1 fail on a 400; items 5k meet a 429 (retry after 5 ms) and a 503, then succeed.
struct Scripted: BatchOperation {
    func attempt(_ item: BatchItem<Int>, attempt: Int) async throws -> Answer {
        if item.input % 3 == 1 {
            throw ItemError(kind: .httpStatus, status: 400, message: "bad request", isRetryable: false)
        }
        if item.input % 5 == 0, attempt == 1 {
            throw ItemError(
                kind: .rateLimited,
                status: 429,
                message: "slow down",
                isRetryable: true,
                retryAfter: .milliseconds(5)
            )
        }
        if item.input % 5 == 0, attempt == 2 {
            throw ItemError(kind: .httpStatus, status: 503, message: "overloaded", isRetryable: true)
        }
        return Answer()
    }
}

/// `--routes`: each deployment's requests, 429s, tokens and cost (issue 22).
@Suite struct DeploymentMetricsTests {
    @Test func eachDeploymentIsReportedUnderItsNameAndFollowsItsTally() {
        let registry = PrometheusCollectorRegistry()
        let metrics = RunMetrics(
            factory: RunMetrics.prometheusFactory(registry: registry),
            progress: nil,
            concurrency: 8
        )
        let tallies = Mutex<[DeploymentTally]>([DeploymentTally(name: "east"), DeploymentTally(name: "west")])
        metrics.watchDeployments { tallies.withLock { $0 } }
        tallies.withLock {
            $0[0].requests = 7
            $0[0].rateLimited = 1
            $0[0].tokens = TokenUsage(prompt: 30, completion: 12, total: 42)
            $0[0].costUSD = 0.5
            $0[1].requests = 3
        }
        var text = MetricsScrape(registry: registry, metrics: metrics)
        #expect(text.value(RunMetrics.Name.deploymentRequests.rawValue, "deployment", "east") == 7)
        #expect(text.value(RunMetrics.Name.deploymentRequests.rawValue, "deployment", "west") == 3)
        #expect(text.value(RunMetrics.Name.deploymentRateLimited.rawValue, "deployment", "east") == 1)
        #expect(text.value(RunMetrics.Name.deploymentCost.rawValue, "deployment", "east") == 0.5)
        #expect(text.sum(RunMetrics.Name.deploymentTokens.rawValue) == 42)
        // Read again: counters move by what the tallies moved, not by their whole again.
        tallies.withLock { $0[1].requests = 5 }
        text = MetricsScrape(registry: registry, metrics: metrics)
        #expect(text.value(RunMetrics.Name.deploymentRequests.rawValue, "deployment", "west") == 5)
        #expect(text.value(RunMetrics.Name.deploymentRequests.rawValue, "deployment", "east") == 7)
    }
}
