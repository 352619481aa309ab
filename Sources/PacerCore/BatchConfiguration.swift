/// How a batch runs: concurrency, per-attempt timeout and retry policy.
public struct BatchConfiguration: Sendable, Hashable {
    /// The most items in flight at once. Default 8.
    public var maxConcurrent: Int
    /// The longest one attempt may take before it is cancelled and counted as a timeout;
    /// `nil` for none. Default 60 s.
    public var attemptTimeout: Duration?
    /// The longest one item may take, all its attempts and the waits between them, from its
    /// first attempt; `nil` for none (the default). An attempt still running at the deadline
    /// is cancelled, and no retry starts that could not begin before it.
    public var itemDeadline: Duration?
    /// When failed attempts are retried, and after how long.
    public var retry: RetryPolicy
    /// Requests and tokens per minute to pace at, or `nil` for no limits of its own (the
    /// server's pauses — a 429, `Retry-After`, none remaining until a reset — are honoured
    /// either way). Default: learn the limits from the server's `x-ratelimit-*` headers.
    public var pacing: RateLimits?
    /// The cap on retries as a share of requests, or `nil` for none. Default 20% plus 10 a second.
    public var retryBudget: RetryBudget?
    /// When set, the items in flight follow an ``AdaptiveConcurrency`` limit (within its
    /// bounds, and never above ``maxConcurrent``) instead of always ``maxConcurrent``: for
    /// self-hosted servers without rate limits. Default `nil`.
    public var adaptiveConcurrency: AdaptiveConcurrency.Configuration?

    /// Creates a configuration.
    ///
    /// - Parameters:
    ///   - maxConcurrent: The most items in flight at once (default 8). Must be at least 1.
    ///   - attemptTimeout: The per-attempt timeout (default 60 s), or `nil` for none. Must be positive.
    ///   - retry: The retry policy (default: 5 retries, 1 s · 2ⁿ backoff capped at 60 s, full jitter).
    ///   - pacing: The rate limits (default: learned from the server), or `nil` for none.
    ///   - retryBudget: The retry cap (default: 20% of requests plus 10 a second), or `nil`.
    ///   - itemDeadline: The time one item may take across its attempts (default none). Must be positive.
    ///   - adaptiveConcurrency: An ``AdaptiveConcurrency`` limit for the items in flight, within
    ///     `maxConcurrent`, or `nil` (the default) for always `maxConcurrent`.
    public init(
        maxConcurrent: Int = 8,
        attemptTimeout: Duration? = .seconds(60),
        retry: RetryPolicy = RetryPolicy(),
        pacing: RateLimits? = RateLimits(),
        retryBudget: RetryBudget? = RetryBudget(),
        itemDeadline: Duration? = nil,
        adaptiveConcurrency: AdaptiveConcurrency.Configuration? = nil
    ) {
        precondition(maxConcurrent >= 1, "maxConcurrent must be at least 1")
        self.adaptiveConcurrency = adaptiveConcurrency
        precondition(attemptTimeout.map { $0 > .zero } ?? true, "attemptTimeout must be positive")
        precondition(itemDeadline.map { $0 > .zero } ?? true, "itemDeadline must be positive")
        self.maxConcurrent = maxConcurrent
        self.attemptTimeout = attemptTimeout
        self.retry = retry
        self.pacing = pacing
        self.retryBudget = retryBudget
        self.itemDeadline = itemDeadline
    }
}
