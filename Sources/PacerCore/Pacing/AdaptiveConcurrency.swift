/// A concurrency limit that finds, by itself, the number of requests in flight past which a
/// server only queues: `--concurrency auto`. A pure value type: feed it each attempt's
/// outcome with ``record(_:)``, read ``limit``.
///
/// The shape is Envoy's adaptive concurrency filter (a gradient against a periodically
/// re-measured baseline latency), with Netflix Gradient2's smoothing:
///
/// - **Baseline**: the median latency of a few requests sent while at most ``Configuration/minimum``
///   were in flight — measured first, again after 50 samples, every
///   ``Configuration/remeasureEvery`` samples, and when the limit sits at its maximum — so that
///   it follows a server whose speed changes and recovers from a baseline taken during a
///   load spike. A running minimum instead drifts: under
///   steady load every sample is a queued one. (Vegas needs the same uncongested minimum.)
/// - **Gradient**: `tolerance × baseline / recent`, between 0.5 and 1; the new limit is
///   `limit × gradient + 1`, taken in by a fifth each sample. While latency stays within the
///   tolerance the limit grows by about one a sample; when requests queue, latency grows with
///   the limit and the limit settles about one above the server's own parallelism: a server
///   with 8 slots settles near 9–10, one with 1 slot at 1–2 (the table tests' model).
/// - **Overload** — a 503, a 429 without rate-limit headers, a timeout, as Ollama and TGI
///   answer when their queue is full — multiplies the limit by ``Configuration/backoff`` at once.
///
/// A sample is latency *per unit of work*: per output token when the answer says, else per
/// item. An LLM answer's length, not the queue, dominates its latency.
public struct AdaptiveConcurrency: Sendable, Hashable {
    /// The bounds and tuning.
    public struct Configuration: Sendable, Hashable {
        /// The limit to start from once the baseline is measured. Default 4.
        public var initial: Int
        /// The smallest limit, and the concurrency the baseline is measured at. Default 1.
        public var minimum: Int
        /// The largest limit. Default 256.
        public var maximum: Int
        /// How much slower than the baseline recent latency may be before the limit shrinks.
        /// Default 1.1.
        public var tolerance: Double
        /// The share of a new estimate taken into the limit each sample. Default 0.2.
        public var smoothing: Double
        /// The factor an overload answer multiplies the limit by. Default 0.7.
        public var backoff: Double
        /// Samples between two measurements of the baseline. Default 500.
        public var remeasureEvery: Int
        /// Samples a baseline measurement takes (their median is the baseline). Default 5.
        public var baselineSamples: Int

        /// Creates a configuration; values out of range are clamped.
        public init(
            initial: Int = 4,
            minimum: Int = 1,
            maximum: Int = 256,
            tolerance: Double = 1.1,
            smoothing: Double = 0.2,
            backoff: Double = 0.7,
            remeasureEvery: Int = 500,
            baselineSamples: Int = 5
        ) {
            self.minimum = max(1, minimum)
            self.maximum = max(self.minimum, maximum)
            self.initial = min(max(initial, self.minimum), self.maximum)
            self.tolerance = max(1, tolerance)
            self.smoothing = min(max(smoothing, 0.01), 1)
            self.backoff = min(max(backoff, 0.1), 0.99)
            self.remeasureEvery = max(1, remeasureEvery)
            self.baselineSamples = max(1, baselineSamples)
        }
    }

    /// One finished attempt.
    public enum Sample: Sendable, Hashable {
        /// An answer: its latency in seconds per unit of work (per output token, or per item),
        /// and how many requests were in flight when it was sent (itself included).
        case answered(secondsPerUnit: Double, inFlight: Int)
        /// The server was overloaded: a 503, a 429 without rate-limit headers, a timeout.
        case overloaded
        /// Any other failure, which says nothing about load.
        case other
    }

    /// The settings.
    public let configuration: Configuration
    private var estimate: Double
    /// `nil` while the baseline is being measured.
    private var recent: Double?
    private var measuring = true
    private var probes: [Double] = []
    private var sinceMeasured = 0
    /// Samples taken since the first baseline.
    private var measurements = 0
    /// The baseline latency per unit, once measured.
    public private(set) var baseline: Double?

    /// A limit that first measures its baseline at ``Configuration/minimum``.
    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        self.estimate = Double(configuration.initial)
    }

    /// The most requests to have in flight now.
    public var limit: Int {
        if measuring { return configuration.minimum }
        return min(configuration.maximum, max(configuration.minimum, Int(estimate.rounded(.down))))
    }

    /// Whether the baseline is being measured (the limit is at its minimum meanwhile).
    public var isMeasuringBaseline: Bool { measuring }

    /// Takes one attempt's outcome.
    public mutating func record(_ sample: Sample) {
        switch sample {
        case .other:
            return
        case .overloaded:
            estimate = max(Double(configuration.minimum), estimate * configuration.backoff)
        case .answered(let latency, let inFlight):
            guard latency.isFinite, latency > 0 else { return }
            if measuring {
                // Only requests sent at the measuring concurrency tell the unqueued latency.
                guard inFlight <= configuration.minimum else { return }
                probes.append(latency)
                guard probes.count >= configuration.baselineSamples else { return }
                baseline = probes.sorted()[probes.count / 2]
                probes = []
                measuring = false
                recent = nil
                sinceMeasured = 0
                return
            }
            guard let baseline else { return }
            let smoothed = recent.map { $0 * 0.9 + latency * 0.1 } ?? latency
            recent = smoothed
            let gradient = max(0.5, min(1, configuration.tolerance * baseline / smoothed))
            let proposed = estimate * gradient + 1
            estimate = estimate * (1 - configuration.smoothing) + proposed * configuration.smoothing
            estimate = min(Double(configuration.maximum), max(Double(configuration.minimum), estimate))
            sinceMeasured += 1
            measurements += 1
            // Again after the first 50 samples (a baseline taken while the machine or the
            // server was warming up is often too high), then every `remeasureEvery`, and
            // sooner when the limit sits at its maximum: either the server really scales
            // that far or the baseline is stale, and a new one tells which.
            let due =
                measurements == 50 || sinceMeasured >= configuration.remeasureEvery
                || (sinceMeasured >= 100 && limit >= configuration.maximum)
            if due { measuring = true }
        }
    }
}
