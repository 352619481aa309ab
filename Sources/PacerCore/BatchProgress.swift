import Synchronization

/// Live counters of a running batch, for a progress display: read ``snapshot`` as often as
/// you redraw. Unlike a stream of events, it holds the same few numbers however fast the
/// batch runs and however slow the reader is.
///
/// ```swift
/// let progress = BatchProgress()
/// async let summary = runner.run(items, operation: client, progress: progress) { _, _ in }
/// print(progress.snapshot.done)
/// ```
public final class BatchProgress: Sendable {
    /// The counters at one moment.
    public struct Snapshot: Sendable, Hashable {
        /// Items that succeeded.
        public var succeeded = 0
        /// Items that failed.
        public var failed = 0
        /// Items stopped before they were done.
        public var cancelled = 0
        /// Items started and not yet ended.
        public var inFlight = 0
        /// Retries decided so far.
        public var retries = 0
        /// Tokens reported by the items that succeeded.
        public var tokens = 0
        /// Cost of the items whose cost is known; `nil` while none is.
        public var costUSD: Double?
        /// With adaptive concurrency, the limit now; `nil` for a fixed concurrency.
        public var concurrencyLimit: Int?
        /// Seconds all admission has been paused at the server's request (a 429 or
        /// `Retry-After`) since the run began, as the summary's ``BatchSummary/pausedSeconds``
        /// (added up over runs that report here one after another).
        public var pausedSeconds: Double = 0

        /// Items ended.
        public var done: Int { succeeded + failed + cancelled }

        /// Creates an empty snapshot.
        public init() {}
    }

    private let state = Mutex(Snapshot())
    /// The paused seconds of earlier runs, and a reader of the current run's (from its quota).
    private let pauses = Mutex<(earlier: Double, current: (@Sendable () -> Double)?)>((0, nil))

    /// Creates counters at zero.
    public init() {}

    /// The counters now.
    public var snapshot: Snapshot {
        var snapshot = state.withLock { $0 }
        // Read outside this lock: the quota has a lock of its own.
        let (earlier, current) = pauses.withLock { ($0.earlier, $0.current) }
        snapshot.pausedSeconds = earlier + (current?() ?? 0)
        return snapshot
    }

    /// Takes a new run's paused seconds from `read` from now on, after the earlier runs' (once
    /// per run, not per item).
    func watchPauses(_ read: @escaping @Sendable () -> Double) {
        let previous = pauses.withLock { $0.current }
        let ended = previous?() ?? 0
        pauses.withLock {
            $0.earlier += ended
            $0.current = read
        }
    }

    func started() { state.withLock { $0.inFlight += 1 } }

    func retried() { state.withLock { $0.retries += 1 } }

    func limited(to limit: Int?) { state.withLock { $0.concurrencyLimit = limit } }

    func finished(_ outcome: BatchEvent.Outcome, tokens: TokenUsage?, costUSD: Double?) {
        state.withLock {
            $0.inFlight -= 1
            switch outcome {
            case .succeeded: $0.succeeded += 1
            case .failed: $0.failed += 1
            case .cancelled: $0.cancelled += 1
            }
            $0.tokens += tokens?.total ?? 0
            if let costUSD { $0.costUSD = ($0.costUSD ?? 0) + costUSD }
        }
    }
}
