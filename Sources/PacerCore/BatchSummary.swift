import Histogram

/// Latency percentiles of the items of a batch, in milliseconds.
public struct LatencyStats: Sendable, Hashable, Codable {
    /// Median.
    public var p50: Double
    /// 90th percentile.
    public var p90: Double
    /// 99th percentile.
    public var p99: Double
    /// Largest.
    public var max: Double

    /// Creates latency statistics.
    public init(p50: Double = 0, p90: Double = 0, p99: Double = 0, max: Double = 0) {
        self.p50 = p50
        self.p90 = p90
        self.p99 = p99
        self.max = max
    }
}

/// What a finished (or stopped) batch did: exact counts, time, rate, latency, tokens and cost.
public struct BatchSummary: Sendable, Hashable, Codable {
    /// Items that ended: succeeded, failed or cancelled.
    public var total: Int
    /// Items that succeeded.
    public var succeeded: Int
    /// Items that failed.
    public var failed: Int
    /// Items stopped before they were done (cancelled, or not sent because the batch
    /// stopped); they are not failures, and a rerun does them.
    public var cancelled: Int
    /// Items skipped (already done in an earlier run).
    public var skipped: Int
    /// Items answered from a response cache, without a request (counted in ``succeeded``).
    public var cached: Int = 0
    /// What the cached answers cost when they were first asked for, at today's prices: the
    /// dollars the cache saved; `nil` when no cached answer's cost is known.
    public var cacheSavedUSD: Double?
    /// Retries made (attempts beyond each item's first).
    public var retries: Int
    /// HTTP 429 answers received.
    public var rateLimitedResponses: Int
    /// Requests sent (every attempt).
    public var requests: Int
    /// Seconds all admission was paused at the server's request.
    public var pausedSeconds: Double
    /// Whether the batch stopped early because its input could not be read further.
    public var inputFailed = false
    /// When it did: why, naming the file and line.
    public var inputError: String?
    /// When the batch stopped because the server asked for a wait longer than the maximum:
    /// seconds from the end of the batch until the server expects capacity again.
    public var resumeAfterSeconds: Double?
    /// Wall-clock time of the batch, in seconds.
    public var wallSeconds: Double
    /// Items ended per second of wall time.
    public var itemsPerSecond: Double
    /// Item latency percentiles (first attempt start to last attempt end), in milliseconds.
    public var latency: LatencyStats
    /// Average number of attempts in flight: total attempt time divided by wall time.
    public var effectiveConcurrency: Double
    /// Tokens used by the items that reported usage.
    public var tokens: TokenUsage
    /// Estimated cost in USD of the items whose cost is known; `nil` when none is known.
    public var costUSD: Double?
    /// Items with token usage but no known price (their cost is not in ``costUSD``).
    public var itemsWithUnknownCost: Int
    /// Tokens and cost per endpoint and model, for outputs that say theirs
    /// (``MeteredOutput/usageKey``), sorted by endpoint and model.
    public var breakdown: [UsageBreakdown] = []
    /// With adaptive concurrency, the limit the run ended at.
    public var concurrencyLimit: Int?
    /// Time to first token, inter-token latency and decoding speed, when answers were
    /// streamed; `nil` otherwise.
    public var streaming: StreamingStats?
    /// Output (completion) tokens per second of wall time: the run's generation throughput.
    public var outputTokensPerSecond: Double = 0
    /// With routes: what each deployment did (requests, 429s, tokens, cost), in the routes
    /// file's order; `nil` without routes.
    public var deployments: [DeploymentTally]?
    /// The most common reasons items failed, most frequent first (at most
    /// ``FailureReason/shown``), so that a run whose items all fail says why.
    public var failureReasons: [FailureReason] = []

    /// Whether every item that ran succeeded and none was left undone.
    public var allSucceeded: Bool { failed == 0 && cancelled == 0 }

    /// Requests sent per minute of wall time.
    public var requestsPerMinute: Double { wallSeconds > 0 ? Double(requests) / wallSeconds * 60 : 0 }

    /// Tokens used per minute of wall time.
    public var tokensPerMinute: Double { wallSeconds > 0 ? Double(tokens.total) / wallSeconds * 60 : 0 }

}

/// Accumulates item results into a ``BatchSummary`` in constant memory.
public struct SummaryBuilder: Sendable {
    private var succeeded = 0
    private var failed = 0
    private var cancelled = 0
    private var requests = 0
    private var skipped = 0
    private var cached = 0
    private var cacheSaved: Double?
    private var retries = 0
    private var rateLimited = 0
    private var busy = Duration.zero
    private var tokens = TokenUsage()
    private var cost: Double?
    private var unknownCost = 0
    private var breakdown: [UsageKey: UsageBreakdown] = [:]
    // Microseconds, 3 significant digits, up to one day.
    private var histogram = Self.microsecondHistogram()
    private var streamed = 0
    private var timeToFirstToken = Self.microsecondHistogram()
    private var interToken = Self.microsecondHistogram()
    // Thousandths of a token per second.
    private var decodeSpeed = Self.microsecondHistogram()
    private var reasons = FailureReason.Tally()

    private static func microsecondHistogram() -> Histogram<UInt64> {
        Histogram(highestTrackableValue: 86_400_000_000, numberOfSignificantValueDigits: .three)
    }

    private static func record(_ seconds: Double, scale: Double = 1e6, in histogram: inout Histogram<UInt64>) {
        let value = max(0, seconds * scale)
        _ = histogram.record(UInt64(min(value, 86_400_000_000)))
    }

    /// Creates an empty builder.
    public init() {}

    /// Records one finished item.
    ///
    /// - Parameters:
    ///   - result: The item's result.
    ///   - busy: The total time its attempts were in flight.
    public mutating func record<Output: MeteredOutput>(_ result: ItemResult<Output>, busy: Duration) {
        switch result.outcome {
        case .success(let output) where output.isCached:
            // Nothing was spent: what it would have cost is what the cache saved.
            succeeded += 1
            cached += 1
            if let itemCost = output.costUSD { cacheSaved = (cacheSaved ?? 0) + itemCost }
        case .success(let output):
            succeeded += 1
            if let key = output.usageKey {
                breakdown[key, default: UsageBreakdown(key: key)].add(output.tokenUsage, costUSD: output.costUSD)
            }
            if let timing = output.streamTiming {
                recordStream(timing, outputTokens: output.tokenUsage?.completion ?? timing.tokenChunks)
            }
            if let usage = output.tokenUsage {
                tokens = tokens + usage
                if let itemCost = output.costUSD {
                    cost = (cost ?? 0) + itemCost
                } else {
                    unknownCost += 1
                }
            }
        case .failure(let error):
            if error.kind == .cancelled {
                cancelled += 1
            } else {
                failed += 1
                reasons.add(error)
            }
        }
        requests += result.attempts
        retries += max(0, result.attempts - 1)
        rateLimited += result.attemptErrors.count(where: { $0.status == 429 })
        self.busy += busy
        // Latency is the API's: a cached answer had none.
        if result.output?.isCached != true { Self.record(result.latency.pacerSeconds, in: &histogram) }
    }

    private mutating func recordStream(_ timing: StreamTiming, outputTokens: Int) {
        streamed += 1
        Self.record(timing.timeToFirstToken.pacerSeconds, in: &timeToFirstToken)
        if let gap = timing.interTokenLatency { Self.record(gap.pacerSeconds, in: &interToken) }
        if let speed = timing.outputTokensPerSecond(outputTokens: outputTokens) {
            Self.record(speed, scale: 1000, in: &decodeSpeed)
        }
    }

    /// Records items skipped without running them.
    public mutating func recordSkipped(_ count: Int = 1) {
        skipped += count
    }

    /// The summary so far, given the wall time elapsed.
    public func summary(wallTime: Duration) -> BatchSummary {
        let wall = wallTime.pacerSeconds
        let ended = succeeded + failed + cancelled
        var summary = BatchSummary(
            total: ended,
            succeeded: succeeded,
            failed: failed,
            cancelled: cancelled,
            skipped: skipped,
            retries: retries,
            rateLimitedResponses: rateLimited,
            requests: requests,
            pausedSeconds: 0,
            resumeAfterSeconds: nil,
            wallSeconds: wall,
            itemsPerSecond: wall > 0 ? Double(ended) / wall : 0,
            latency: Self.milliseconds(histogram),
            effectiveConcurrency: wall > 0 ? busy.pacerSeconds / wall : 0,
            tokens: tokens,
            costUSD: cost,
            itemsWithUnknownCost: unknownCost,
            breakdown: breakdown.values.sorted { $0.key < $1.key }
        )
        summary.cached = cached
        summary.cacheSavedUSD = cacheSaved
        summary.outputTokensPerSecond = wall > 0 ? Double(tokens.completion) / wall : 0
        summary.failureReasons = reasons.mostCommon
        if streamed > 0 {
            func rate(_ percentile: Double) -> Double {
                decodeSpeed.totalCount > 0 ? Double(decodeSpeed.valueAtPercentile(percentile)) / 1000 : 0
            }
            summary.streaming = StreamingStats(
                items: streamed,
                timeToFirstToken: Self.milliseconds(timeToFirstToken),
                interTokenLatency: Self.milliseconds(interToken),
                outputTokensPerSecond: ThroughputStats(p50: rate(50), p10: rate(10), p1: rate(1))
            )
        }
        return summary
    }

    /// Percentiles of a histogram of microseconds, in milliseconds (zeros when empty).
    private static func milliseconds(_ histogram: Histogram<UInt64>) -> LatencyStats {
        guard histogram.totalCount > 0 else { return LatencyStats() }
        func ms(_ percentile: Double) -> Double { Double(histogram.valueAtPercentile(percentile)) / 1000 }
        return LatencyStats(p50: ms(50), p90: ms(90), p99: ms(99), max: Double(histogram.max) / 1000)
    }
}

/// The succeeded items, tokens and cost of one endpoint and model in a batch.
public struct UsageBreakdown: Sendable, Hashable, Codable {
    /// The endpoint and model.
    public var key: UsageKey
    /// Items that succeeded.
    public var items: Int = 0
    /// Their tokens, as the server reported them.
    public var tokens = TokenUsage()
    /// Their estimated cost in USD; `nil` when no item's cost is known.
    public var costUSD: Double?
    /// Items whose cost is unknown (no usage reported, or a model without a price).
    public var itemsWithUnknownCost = 0

    /// An empty breakdown for a key.
    public init(key: UsageKey) {
        self.key = key
    }

    /// Counts one succeeded item.
    mutating func add(_ usage: TokenUsage?, costUSD: Double?) {
        items += 1
        if let usage { tokens = tokens + usage }
        if let costUSD {
            self.costUSD = (self.costUSD ?? 0) + costUSD
        } else {
            itemsWithUnknownCost += 1
        }
    }
}
