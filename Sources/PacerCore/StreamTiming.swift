/// How a streamed answer arrived: when its first token came, how many chunks carried
/// tokens, and when the last one came. Times are from the start of the attempt that
/// succeeded.
public struct StreamTiming: Sendable, Hashable, Codable {
    /// From sending the request to the first chunk that carried content.
    public var timeToFirstToken: Duration
    /// From sending the request to the last chunk that carried content.
    public var timeToLastToken: Duration
    /// Chunks that carried content (about one token each on OpenAI, vLLM and llama.cpp).
    public var tokenChunks: Int

    /// Creates a timing.
    public init(timeToFirstToken: Duration, timeToLastToken: Duration, tokenChunks: Int) {
        self.timeToFirstToken = timeToFirstToken
        self.timeToLastToken = max(timeToLastToken, timeToFirstToken)
        self.tokenChunks = tokenChunks
    }

    /// The mean gap between token chunks after the first; `nil` with fewer than two chunks.
    public var interTokenLatency: Duration? {
        guard tokenChunks >= 2 else { return nil }
        return (timeToLastToken - timeToFirstToken) / (tokenChunks - 1)
    }

    /// Decoding speed: the output tokens after the first per second of streaming after the
    /// first token; `nil` when it cannot be told (one token, or no time between them).
    ///
    /// - Parameter outputTokens: The answer's completion tokens (reported or estimated).
    public func outputTokensPerSecond(outputTokens: Int) -> Double? {
        let seconds = (timeToLastToken - timeToFirstToken).pacerSeconds
        guard outputTokens >= 2, seconds > 0 else { return nil }
        return Double(outputTokens - 1) / seconds
    }
}

/// Latency figures of the streamed items of a batch.
public struct StreamingStats: Sendable, Hashable, Codable {
    /// Items whose answers were streamed.
    public var items: Int
    /// Time to first token, in milliseconds.
    public var timeToFirstToken: LatencyStats
    /// Each item's mean gap between tokens, in milliseconds.
    public var interTokenLatency: LatencyStats
    /// Each item's decoding speed in output tokens per second: median, and the slowest tenth
    /// (`p10`) and hundredth (`p1`).
    public var outputTokensPerSecond: ThroughputStats

    /// Creates streaming statistics.
    public init(
        items: Int,
        timeToFirstToken: LatencyStats,
        interTokenLatency: LatencyStats,
        outputTokensPerSecond: ThroughputStats
    ) {
        self.items = items
        self.timeToFirstToken = timeToFirstToken
        self.interTokenLatency = interTokenLatency
        self.outputTokensPerSecond = outputTokensPerSecond
    }
}

/// A rate's distribution over items, where low is bad: the median and the low percentiles.
public struct ThroughputStats: Sendable, Hashable, Codable {
    /// Median.
    public var p50: Double
    /// 10th percentile: nine items in ten were faster.
    public var p10: Double
    /// 1st percentile.
    public var p1: Double

    /// Creates throughput statistics.
    public init(p50: Double = 0, p10: Double = 0, p1: Double = 0) {
        self.p50 = p50
        self.p10 = p10
        self.p1 = p1
    }
}
