import CoreMetrics
import PacerCore
import Synchronization

/// A batch run's metrics, on swift-metrics: items by outcome and error kind, attempts by
/// outcome, 429s, retries, tokens and cost, item latency and time to first token, and the
/// live gauges of a `BatchProgress` (items in flight, the concurrency limit, the seconds the
/// server paused the run).
///
/// Every metric is made once, here, from the factory given: nothing is looked up by name
/// while the run goes on, and nothing is bootstrapped globally, so any number of runs in one
/// process each have their own (``serving(on:progress:concurrency:_:)`` gives each a
/// Prometheus registry of its own). Counters are fed from what the engine reports: call
/// ``record(_:items:)`` with each result the runner hands to `onResult`, and ``refresh()``
/// before reading the gauges (the Prometheus endpoint does so on every scrape).
///
/// ```swift
/// let progress = BatchProgress()
/// let metrics = RunMetrics(factory: MetricsSystem.factory, progress: progress, concurrency: 16)
/// let summary = try await runner.run(items, operation: client, progress: progress) { item, result in
///     metrics.record(result)
/// }
/// ```
///
/// The names, labels and meanings are in ``Name``.
public final class RunMetrics: Sendable {
    private let itemsSucceeded: Counter
    private let itemsCancelled: Counter
    private let itemsFailed: KindCounters
    private let attemptsSucceeded: Counter
    private let attemptsFailed: KindCounters
    private let rateLimited: Counter
    private let retries: Counter
    private let promptTokens: Counter
    private let completionTokens: Counter
    private let cost: FloatingPointCounter
    private let latency: Timer
    private let timeToFirstToken: Timer
    private let inFlight: Gauge
    private let concurrencyLimit: Gauge
    private let paused: FloatingPointCounter
    private let progress: BatchProgress?
    private let fixedConcurrency: Int?
    /// The paused seconds already added to ``Name/quotaPausedSeconds``.
    private let pausedReported = Mutex<Double>(0)
    private let factory: any MetricsFactory
    /// With `--routes`: what each deployment did so far, and what is already reported.
    private let deployments = Mutex<DeploymentMetrics?>(nil)

    /// Each deployment's counters and the tallies they were last brought to.
    private struct DeploymentMetrics {
        var tallies: @Sendable () -> [DeploymentTally]
        var counters:
            [String: (
                requests: Counter, limited: Counter, prompt: Counter, completion: Counter, cost: FloatingPointCounter
            )] = [:]
        var reported: [String: DeploymentTally] = [:]
    }

    /// Makes every metric of a run with `factory`.
    ///
    /// - Parameters:
    ///   - factory: Where the metrics go: a `PrometheusMetricsFactory` over a registry of the
    ///     run's own (see ``prometheusFactory(registry:)``), or `MetricsSystem.factory`.
    ///   - progress: The counters the run updates, for the gauges (`nil`: no gauges move).
    ///   - concurrency: The fixed concurrency limit, shown while the progress reports none
    ///     (with adaptive concurrency, the progress's limit is shown once the run begins).
    public init(factory: any MetricsFactory, progress: BatchProgress?, concurrency: Int?) {
        func counter(_ name: Name, _ dimensions: [(String, String)] = []) -> Counter {
            Counter(label: name.rawValue, dimensions: dimensions, factory: factory)
        }
        itemsSucceeded = counter(.itemsSucceeded)
        itemsCancelled = counter(.itemsCancelled)
        // A cancelled item is not a failure: it has a counter of its own.
        itemsFailed = KindCounters(
            name: .itemsFailed,
            label: "kind",
            kinds: KindCounters.knownKinds.filter { $0 != .cancelled },
            factory: factory
        )
        attemptsSucceeded = counter(.attempts, [("outcome", "success")])
        // An invalid input is never sent.
        attemptsFailed = KindCounters(
            name: .attempts,
            label: "outcome",
            kinds: KindCounters.knownKinds.filter { $0 != .invalidInput },
            factory: factory
        )
        rateLimited = counter(.rateLimitedResponses)
        retries = counter(.retries)
        promptTokens = counter(.tokens, [("type", "prompt")])
        completionTokens = counter(.tokens, [("type", "completion")])
        cost = FloatingPointCounter(label: Name.cost.rawValue, dimensions: [], factory: factory)
        latency = Timer(label: Name.itemLatency.rawValue, dimensions: [], factory: factory)
        timeToFirstToken = Timer(label: Name.timeToFirstToken.rawValue, dimensions: [], factory: factory)
        inFlight = Gauge(label: Name.itemsInFlight.rawValue, dimensions: [], factory: factory)
        concurrencyLimit = Gauge(label: Name.concurrencyLimit.rawValue, dimensions: [], factory: factory)
        paused = FloatingPointCounter(label: Name.quotaPausedSeconds.rawValue, dimensions: [], factory: factory)
        self.progress = progress
        self.fixedConcurrency = concurrency
        self.factory = factory
        refresh()
    }

    /// Reports each deployment of a routed run (``Name/deploymentRequests`` and the others,
    /// labelled `deployment`) from `tallies`, read at each ``refresh()``.
    public func watchDeployments(_ tallies: @escaping @Sendable () -> [DeploymentTally]) {
        deployments.withLock { $0 = DeploymentMetrics(tallies: tallies) }
        refresh()
    }

    /// Records one result the runner delivered.
    ///
    /// Attempts, 429s, retries, tokens, cost and latencies are the result's own; `items` is
    /// how many input items it ends, for the item counters: 1 for a result that is one item,
    /// the texts of a request that packs several, 0 for a request whose texts are sent again
    /// (split after a refusal). Counted as the summary counts: its totals equal these counters
    /// once the run is over. An item's attempts and 429s are counted when it ends, together.
    ///
    /// - Parameters:
    ///   - result: The result, as handed to the runner's `onResult`.
    ///   - items: The input items it ends (default 1).
    public func record<Output: MeteredOutput>(_ result: ItemResult<Output>, items: Int = 1) {
        var failedAttempts = result.attempts
        // Stopped before it was done: its latency says nothing about the server.
        var stopped = false
        switch result.outcome {
        case .success(let output):
            itemsSucceeded.increment(by: items)
            attemptsSucceeded.increment()
            failedAttempts -= 1
            if let usage = output.tokenUsage {
                promptTokens.increment(by: usage.prompt)
                completionTokens.increment(by: usage.completion)
            }
            if let costUSD = output.costUSD { cost.increment(by: costUSD) }
            if let timing = output.streamTiming { timeToFirstToken.record(timing.timeToFirstToken) }
        case .failure(let error):
            if error.kind == .cancelled {
                stopped = true
                itemsCancelled.increment(by: items)
            } else if items > 0 {
                itemsFailed[error.kind].increment(by: items)
            }
        }
        if !result.attemptErrors.isEmpty {
            // An item's errors may end with one no attempt had (the quota refused it): only
            // as many as its failed attempts are attempt outcomes.
            for error in result.attemptErrors.prefix(max(0, failedAttempts)) {
                attemptsFailed[error.kind].increment()
            }
            let answered429 = result.attemptErrors.count(where: { $0.status == 429 })
            if answered429 > 0 { rateLimited.increment(by: answered429) }
        }
        if result.attempts > 1 { retries.increment(by: result.attempts - 1) }
        if result.attempts > 0, !stopped { latency.record(result.latency) }
    }

    /// Records `items` input items that failed without a request: lines that could not be
    /// read, with `--skip-invalid` (`kind` `invalid_input`).
    public func recordFailed(_ kind: ItemError.Kind, items: Int = 1) {
        itemsFailed[kind].increment(by: items)
    }

    /// Sets the gauges from the progress now: items in flight, the concurrency limit, and the
    /// paused seconds the server imposed since the last refresh.
    public func refresh() {
        refreshDeployments()
        guard let progress else {
            if let fixedConcurrency { concurrencyLimit.record(fixedConcurrency) }
            return
        }
        let snapshot = progress.snapshot
        inFlight.record(snapshot.inFlight)
        if let limit = snapshot.concurrencyLimit ?? fixedConcurrency { concurrencyLimit.record(limit) }
        let added = pausedReported.withLock { reported in
            let added = snapshot.pausedSeconds - reported
            if added > 0 { reported = snapshot.pausedSeconds }
            return added
        }
        if added > 0 { paused.increment(by: added) }
    }
}

extension RunMetrics {
    /// Brings each deployment's counters to its tally.
    private func refreshDeployments() {
        deployments.withLock { state in
            guard var metrics = state else { return }
            for tally in metrics.tallies() {
                let counters =
                    metrics.counters[tally.name]
                    ?? {
                        let label = [("deployment", tally.name)]
                        let made = (
                            requests: Counter(
                                label: Name.deploymentRequests.rawValue,
                                dimensions: label,
                                factory: factory
                            ),
                            limited: Counter(
                                label: Name.deploymentRateLimited.rawValue,
                                dimensions: label,
                                factory: factory
                            ),
                            prompt: Counter(
                                label: Name.deploymentTokens.rawValue,
                                dimensions: label + [("type", "prompt")],
                                factory: factory
                            ),
                            completion: Counter(
                                label: Name.deploymentTokens.rawValue,
                                dimensions: label + [("type", "completion")],
                                factory: factory
                            ),
                            cost: FloatingPointCounter(
                                label: Name.deploymentCost.rawValue,
                                dimensions: label,
                                factory: factory
                            )
                        )
                        metrics.counters[tally.name] = made
                        return made
                    }()
                let before = metrics.reported[tally.name] ?? DeploymentTally(name: tally.name)
                counters.requests.increment(by: tally.requests - before.requests)
                counters.limited.increment(by: tally.rateLimited - before.rateLimited)
                counters.prompt.increment(by: tally.tokens.prompt - before.tokens.prompt)
                counters.completion.increment(by: tally.tokens.completion - before.tokens.completion)
                let cost = (tally.costUSD ?? 0) - (before.costUSD ?? 0)
                if cost > 0 { counters.cost.increment(by: cost) }
                metrics.reported[tally.name] = tally
            }
            state = metrics
        }
    }
}

extension Timer {
    /// Records a duration, in whole nanoseconds (negative ones as zero, huge ones capped).
    fileprivate func record(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0 else { return recordNanoseconds(Int64(0)) }
        let capped = min(seconds, Int64.max / 1_000_000_000 - 1)
        recordNanoseconds(capped * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
