/// A concurrency limit that finds, by itself, the number of requests in flight past which a
/// server only queues: `--concurrency auto`. A pure value type: feed it each attempt's
/// outcome with ``record(_:)``, read ``limit``.
///
/// The shape is Envoy's adaptive concurrency filter (a gradient against a periodically
/// re-measured baseline latency), with Netflix Gradient2's smoothing and TCP's slow start:
///
/// - **Baseline**: first, the fastest answer of the first round (``Configuration/initial``
///   requests sent together): against a server that queues first come, first served, the
///   first answer waited for nobody, and against one with slots to spare none did — so the
///   run starts at full speed instead of with requests sent one by one. Afterwards the
///   baseline follows the recent latency down when it is lower for a while, and is measured
///   again at ``Configuration/minimum`` in flight (the median of a few answers) every
///   ``Configuration/remeasureEvery`` samples — an interval that doubles, up to 16 times,
///   while each measurement finds it where it was, since each costs a few seconds of lower
///   throughput — and when the limit sits at its maximum. Only the measurements move it up,
///   so a server that became slower is followed at the next one.
/// - **Gradient**: `tolerance × baseline / recent` (tolerance 1.3), between 0.5 and 1; the new limit is
///   `limit × gradient + 1`, taken in by a fifth each sample. Until latency first grows, the
///   limit grows by one an answer (it doubles a round). When requests queue, latency grows
///   with the limit and the limit settles about one above the server's own parallelism: a
///   server with 8 slots settles near 9–10, one with 1 slot at 1–2.
/// - **Overload** — a 503, a 429 without rate-limit headers, a timeout, as Ollama and TGI
///   answer when their queue is full — multiplies the limit by ``Configuration/backoff`` at once.
///
/// A sample is latency *per unit of work*: per output token when the answer says, else per
/// item. An LLM answer's length, not the queue, dominates its latency.
public struct AdaptiveConcurrency: Sendable, Hashable {
    /// The bounds and tuning.
    public struct Configuration: Sendable, Hashable {
        /// The requests of the first round, whose fastest answer is the first baseline. Default 4.
        public var initial: Int
        /// The smallest limit, and the concurrency the baseline is measured again at. Default 1.
        public var minimum: Int
        /// The largest limit. Default 256.
        public var maximum: Int
        /// How much slower than the baseline recent latency may be before the limit shrinks.
        /// Default 1.3: a continuous-batching server decodes each token a little slower as its
        /// batch fills (vLLM, llama.cpp), which is not queueing; Gradient2 allows 1.5.
        public var tolerance: Double
        /// The share of a new estimate taken into the limit each sample. Default 0.2.
        public var smoothing: Double
        /// The factor an overload answer multiplies the limit by. Default 0.7.
        public var backoff: Double
        /// Samples before the baseline is measured again (doubling while it holds). Default 500.
        public var remeasureEvery: Int
        /// Samples a baseline measurement takes (their median is the baseline). Default 5.
        public var baselineSamples: Int

        /// Creates a configuration; values out of range are clamped.
        public init(
            initial: Int = 4,
            minimum: Int = 1,
            maximum: Int = 256,
            tolerance: Double = 1.3,
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
    private var recent: Double?
    private var phase = Phase.firstRound
    /// The first round's answers (the baseline is the fastest), or a measurement's.
    private var probes: [Double] = []
    /// While the limit doubles a round (after the first round, until latency first grows).
    private var slowStart = true
    private var sinceMeasured = 0
    /// Samples until the next measurement: ``Configuration/remeasureEvery``, doubled after
    /// each measurement that found the baseline where it was.
    private var remeasureInterval: Int
    /// The baseline latency per unit, once known.
    public private(set) var baseline: Double?

    private enum Phase: Hashable {
        /// The first `initial` answers, sent together.
        case firstRound
        /// Adjusting by the gradient.
        case running
        /// At the minimum, measuring the baseline again.
        case measuring
    }

    /// A limit that starts with ``Configuration/initial`` requests in flight.
    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        self.estimate = Double(configuration.initial)
        self.remeasureInterval = configuration.remeasureEvery
    }

    /// The most requests to have in flight now.
    public var limit: Int {
        if phase == .measuring { return configuration.minimum }
        return min(configuration.maximum, max(configuration.minimum, Int(estimate.rounded(.down))))
    }

    /// Whether the baseline is being measured again (the limit is at its minimum meanwhile).
    public var isMeasuringBaseline: Bool { phase == .measuring }

    /// Takes one attempt's outcome.
    public mutating func record(_ sample: Sample) {
        switch sample {
        case .other:
            return
        case .overloaded:
            estimate = max(Double(configuration.minimum), estimate * configuration.backoff)
            slowStart = false
            if phase == .firstRound, !probes.isEmpty, probes.count >= limit { startRunning() }
        case .answered(let latency, let inFlight):
            guard latency.isFinite, latency > 0 else { return }
            switch phase {
            case .firstRound:
                probes.append(latency)
                if probes.count >= limit { startRunning() }
            case .measuring:
                // Only requests sent at the measuring concurrency tell the unqueued latency.
                guard inFlight <= configuration.minimum else { return }
                probes.append(latency)
                guard probes.count >= configuration.baselineSamples else { return }
                let measured = probes.sorted()[probes.count / 2]
                // A baseline where it was: look again later; one that moved: soon.
                let steady = baseline.map { abs(measured - $0) <= 0.1 * $0 } ?? false
                remeasureInterval =
                    steady
                    ? min(remeasureInterval * 2, configuration.remeasureEvery * 16) : configuration.remeasureEvery
                baseline = measured
                probes = []
                phase = .running
                recent = nil
                sinceMeasured = 0
            case .running:
                adjust(latency)
            }
        }
    }

    /// The first round is in: its fastest answer is the baseline. Against a server that
    /// queues first come, first served, the first answer of a round waited for nobody, however
    /// few slots the server has; against one with slots to spare, none waited.
    private mutating func startRunning() {
        baseline = probes.min()
        probes = []
        phase = .running
        sinceMeasured = 0
    }

    private mutating func adjust(_ latency: Double) {
        guard var baseline else { return }
        let smoothed = recent.map { $0 * 0.9 + latency * 0.1 } ?? latency
        recent = smoothed
        // Faster than the baseline for a while: the baseline was taken on a slow moment.
        if smoothed < baseline {
            baseline = smoothed
            self.baseline = baseline
        }
        let gradient = max(0.5, min(1, configuration.tolerance * baseline / smoothed))
        if slowStart, gradient >= 1 {
            // Like TCP's slow start: one more per answer, so the limit doubles a round.
            estimate += 1
        } else {
            slowStart = false
            let proposed = estimate * gradient + 1
            estimate = estimate * (1 - configuration.smoothing) + proposed * configuration.smoothing
        }
        estimate = min(Double(configuration.maximum), max(Double(configuration.minimum), estimate))
        sinceMeasured += 1
        // Again every so often (a server whose unqueued speed changed, say a model swapped),
        // and sooner when the limit sits at its maximum: either the server really scales
        // that far or the baseline is stale, and a new one tells which.
        if sinceMeasured >= remeasureInterval || (sinceMeasured >= 100 && limit >= configuration.maximum) {
            phase = .measuring
        }
    }
}
