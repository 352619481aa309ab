import PacerCore
import Prometheus

extension RunMetrics {
    /// The upper bounds of ``Name/itemLatency``'s buckets: 5 ms (a fast JSON API) to 5 minutes
    /// (a long completion retried).
    public static let latencyBuckets: [Duration] = [
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
        .seconds(30), .seconds(60), .seconds(120), .seconds(300),
    ]

    /// The upper bounds of ``Name/timeToFirstToken``'s buckets: 10 ms to a minute.
    public static let timeToFirstTokenBuckets: [Duration] = [
        .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
        .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
    ]

    /// A factory that makes a run's metrics in `registry`, with ``latencyBuckets`` and
    /// ``timeToFirstTokenBuckets`` for the histograms.
    public static func prometheusFactory(registry: PrometheusCollectorRegistry) -> PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets = [
            Name.itemLatency.rawValue: latencyBuckets,
            Name.timeToFirstToken.rawValue: timeToFirstTokenBuckets,
        ]
        return factory
    }

    /// Serves a new run's metrics in Prometheus's text format at `/metrics` while `body` runs,
    /// from a registry of their own (nothing global, so runs in one process do not mix).
    ///
    /// One call gives any command its metrics: make the progress, call this around the run,
    /// and hand each result to ``record(_:items:)``.
    ///
    /// ```swift
    /// let progress = BatchProgress()
    /// try await RunMetrics.serving(on: .init(port: 9464), progress: progress, concurrency: 8) { metrics, server in
    ///     try await runner.run(items, operation: client, progress: progress) { _, result in
    ///         metrics.record(result)
    ///     }
    /// }
    /// ```
    ///
    /// - Parameters:
    ///   - configuration: Where to listen.
    ///   - progress: The counters the run updates, for the gauges.
    ///   - concurrency: The fixed concurrency limit (see ``init(factory:progress:concurrency:)``).
    ///   - body: The run, given the metrics to feed and the server (its port, its URL).
    /// - Returns: What `body` returns.
    /// - Throws: A ``MetricsServerError`` if the server cannot listen (before `body` runs), or
    ///   what `body` throws.
    public static func serving<T>(
        on configuration: MetricsServer.Configuration,
        progress: BatchProgress?,
        concurrency: Int?,
        _ body: (RunMetrics, MetricsServer.Running) async throws -> T
    ) async throws -> T {
        let registry = PrometheusCollectorRegistry()
        let metrics = RunMetrics(
            factory: prometheusFactory(registry: registry),
            progress: progress,
            concurrency: concurrency
        )
        let server = MetricsServer(configuration: configuration) {
            metrics.refresh()
            return registry.emitToBuffer()
        }
        return try await server.withRunning { running in try await body(metrics, running) }
    }
}
