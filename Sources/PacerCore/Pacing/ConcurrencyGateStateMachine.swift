/// `--concurrency auto`'s limit: the pure core of `ConcurrencyGate`. Feed it each attempt's
/// outcome with ``record(_:)`` and read ``limit``; ``AdaptiveConcurrency`` describes how the
/// limit moves.
package struct ConcurrencyGateStateMachine: Sendable, Hashable {
    /// The settings.
    package let configuration: AdaptiveConcurrency.Configuration
    private var estimate: Double
    private var recent: Double?
    private var phase = Phase.firstRound
    /// The first round's answers (the baseline is the fastest), or a measurement's.
    private var probes: [Double] = []
    /// While the limit doubles a round (after the first round, until latency first grows).
    private var slowStart = true
    private var sinceMeasured = 0
    /// Samples until the next measurement: ``AdaptiveConcurrency/Configuration/remeasureEvery``, doubled after
    /// each measurement that found the baseline where it was.
    private var remeasureInterval: Int
    /// The baseline latency per unit, once known.
    package private(set) var baseline: Double?

    private enum Phase: Hashable {
        /// The first `initial` answers, sent together.
        case firstRound
        /// Adjusting by the gradient.
        case running
        /// At the minimum, measuring the baseline again.
        case measuring
    }

    /// A limit that starts with ``AdaptiveConcurrency/Configuration/initial`` requests in flight.
    package init(configuration: AdaptiveConcurrency.Configuration = AdaptiveConcurrency.Configuration()) {
        self.configuration = configuration
        self.estimate = Double(configuration.initial)
        self.remeasureInterval = configuration.remeasureEvery
    }

    /// The most requests to have in flight now.
    package var limit: Int {
        if phase == .measuring { return configuration.minimum }
        return min(configuration.maximum, max(configuration.minimum, Int(estimate.rounded(.down))))
    }

    /// Whether the baseline is being measured again (the limit is at its minimum meanwhile).
    package var isMeasuringBaseline: Bool { phase == .measuring }

    /// Takes one attempt's outcome.
    package mutating func record(_ sample: AdaptiveConcurrency.Sample) {
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
