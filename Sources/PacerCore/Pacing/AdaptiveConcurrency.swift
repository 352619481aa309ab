/// A concurrency limit that finds, by itself, the number of requests in flight past which a
/// server only queues: `--concurrency auto`, set with a ``Configuration`` and fed each
/// attempt's outcome as a ``Sample``.
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
///
/// The limit itself is `ConcurrencyGateStateMachine`, the pure core of the gate a run's
/// attempts pass (`ConcurrencyGate`); this namespace holds what a caller gives and feeds it.
public enum AdaptiveConcurrency {
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
}
