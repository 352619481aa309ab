import ArgumentParser
import PacerCore
import PacerJobs
import PacerMetrics

/// `--metrics-port` and `--metrics-host`: Prometheus metrics while a command runs.
///
/// ``RunOptions`` includes it, so every batch command has it; a command without `RunOptions`
/// adds `@OptionGroup(title: "Metrics") var metrics: MetricsOptions`. Either way, the command
/// wraps its run in ``serving(progress:concurrency:quiet:_:)`` and hands each result the runner
/// delivers to ``RunMetrics/record(_:items:)``.
package struct MetricsOptions: ParsableArguments {
    /// Options at their defaults (swift-argument-parser fills them in when parsing).
    package init() {}

    /// `--metrics-port`: where to serve, or `nil` for no metrics.
    @Option(
        help: ArgumentHelp(
            "Serve Prometheus metrics at http://127.0.0.1:<port>/metrics while the command runs: pacer_items_succeeded_total, pacer_items_failed_total{kind}, pacer_attempts_total{outcome}, pacer_rate_limited_responses_total, pacer_items_in_flight, pacer_concurrency_limit, pacer_quota_paused_seconds_total, pacer_item_latency_seconds, pacer_time_to_first_token_seconds and more (README, Metrics). 0 picks a free port.",
            valueName: "port"
        )
    )
    package var metricsPort: Int?

    /// `--metrics-host`: the address to listen on.
    @Option(help: "With --metrics-port: the address to listen on (0.0.0.0 for every interface).")
    package var metricsHost: String = "127.0.0.1"

    /// Checks that the port is one.
    package func validate() throws {
        if let metricsPort, !(0...65535).contains(metricsPort) {
            throw ValidationError("--metrics-port must be within 0...65535 (0 picks a free port), got \(metricsPort)")
        }
    }

    /// Runs `body` with a run's metrics served at `/metrics` when `--metrics-port` was given,
    /// and says where on stderr (unless `quiet`); without it, `body` gets `nil` and nothing is
    /// made: a run without metrics pays nothing for them.
    ///
    /// - Parameters:
    ///   - progress: The counters the run updates, for the gauges.
    ///   - concurrency: The run's fixed concurrency limit (with `--concurrency auto`, its maximum
    ///     until the run reports its limit).
    ///   - quiet: Whether to keep the address to itself.
    ///   - body: The run, given the metrics to feed.
    /// - Throws: An ``InputError`` naming the option when the server cannot listen (before
    ///   `body` runs), or what `body` throws.
    package func serving<T>(
        progress: BatchProgress,
        concurrency: Int?,
        quiet: Bool,
        _ body: (RunMetrics?) async throws -> T
    ) async throws -> T {
        guard let metricsPort else { return try await body(nil) }
        let configuration = MetricsServer.Configuration(host: metricsHost, port: metricsPort)
        do {
            return try await RunMetrics.serving(on: configuration, progress: progress, concurrency: concurrency) {
                metrics,
                server in
                if !quiet { Console.error("metrics: \(server.url)") }
                return try await body(metrics)
            }
        } catch let error as MetricsServerError {
            let option = error.concernsHost ? "--metrics-host \(metricsHost)" : "--metrics-port \(metricsPort)"
            throw InputError(file: option, message: error.description)
        }
    }
}
