import Logging
import PacerCore

/// How a run sends its items, whatever it reads and writes: the engine's settings, the grace
/// after a stop, the jitter's seed and where the engine logs. A file run and a worker run
/// (and next a server's batch) take it alike.
package struct RunSettings: Sendable {
    /// The engine's settings: concurrency, retries, pacing.
    package var engine: BatchConfiguration
    /// How long the requests in flight may take to finish after a stop.
    package var grace: Duration = .seconds(10)
    /// The jitter's seed, for reproducible runs.
    package var seed: UInt64?
    /// Where the engine logs.
    package var logger = Logger(label: "pacer.run", factory: { _ in SwiftLogNoOpLogHandler() })

    /// Settings that run the engine with `engine`.
    package init(engine: BatchConfiguration) {
        self.engine = engine
    }

    /// The engine for these settings, pacing against `quota` (`nil`: one of its own).
    func runner(quota: (any QuotaProtocol<ContinuousClock>)?) -> BatchRunner<ContinuousClock> {
        BatchRunner(
            configuration: engine,
            random: seed.map(RandomSource.seeded) ?? .system,
            logger: logger,
            quota: quota
        )
    }
}
