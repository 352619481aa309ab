/// Requests and tokens per minute, and how closely to pace at them.
public struct RateLimits: Sendable, Hashable {
    /// Requests per minute; `nil` for no request limit (or one learned from the server).
    public var requestsPerMinute: Double?
    /// Tokens per minute; `nil` for no token limit (or one learned from the server).
    public var tokensPerMinute: Double?
    /// How much may be sent at once, as time at the full rate. Default 1 s (600 RPM → 10).
    public var burst: Duration
    /// The share of each limit left unused, so that network jitter does not turn a request
    /// sent exactly on schedule into a 429. Default 0.02 (pace at 98% of the limit).
    public var headroom: Double
    /// Requests of the burst kept unused, so that a server bucket of the same size is never
    /// driven to empty by the first burst (when the burst is at least twice this). Default 1.
    public var burstReserve: Double
    /// Adopt the server's `x-ratelimit-limit-*` for limits not given here. Default `true`.
    public var learnFromServer: Bool
    /// The longest server-requested wait to sit through; longer ones stop the batch. Default 120 s.
    public var maxWait: Duration
    /// While learning the limits, send one request alone until the server's first answer
    /// (which carries them), instead of a first wave of `maxConcurrent`. Default `false`.
    public var probeFirst: Bool

    /// Creates limits; see each property for its default.
    public init(
        requestsPerMinute: Double? = nil,
        tokensPerMinute: Double? = nil,
        burst: Duration = .seconds(1),
        headroom: Double = 0.02,
        burstReserve: Double = 1,
        learnFromServer: Bool = true,
        maxWait: Duration = .seconds(120),
        probeFirst: Bool = false
    ) {
        precondition(requestsPerMinute.map { $0 > 0 } ?? true, "requestsPerMinute must be positive")
        precondition(tokensPerMinute.map { $0 > 0 } ?? true, "tokensPerMinute must be positive")
        precondition(burst > .zero, "burst must be positive")
        precondition((0..<1).contains(headroom), "headroom must be within 0..<1")
        self.requestsPerMinute = requestsPerMinute
        self.tokensPerMinute = tokensPerMinute
        self.burst = burst
        self.headroom = headroom
        self.burstReserve = burstReserve
        self.learnFromServer = learnFromServer
        self.maxWait = maxWait
        self.probeFirst = probeFirst
    }

    /// A bucket pacing at `perMinute` with this burst and headroom; `reserve` units of the
    /// burst are kept unused when the burst is at least twice as large.
    func bucket(perMinute: Double, reserve: Double = 0, now: Double) -> TokenBucket {
        let rate = perMinute * (1 - headroom) / 60
        let burstUnits = rate * burst.pacerSeconds
        let capacity = burstUnits >= 2 * reserve ? burstUnits - reserve : burstUnits
        return TokenBucket(rate: rate, capacity: max(1, capacity), now: now)
    }
}
