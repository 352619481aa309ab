/// When and how long to wait before trying a failed attempt again.
///
/// A pure decision: given the failure and how many retries were made, it says "stop" or
/// "retry after this delay". A delay the server asked for (`Retry-After`) wins over the
/// computed backoff, unless it is zero.
public struct RetryPolicy: Sendable, Hashable {
    /// Retries after the first attempt; 0 means one attempt only. Default 5.
    public var maxRetries: Int
    /// The backoff used when the server gives no delay. Default: 1 s · 2ⁿ, cap 60 s, full jitter.
    public var backoff: Backoff

    /// Creates a retry policy.
    ///
    /// - Parameters:
    ///   - maxRetries: Retries after the first attempt (default 5). Must not be negative.
    ///   - backoff: The backoff used when the server gives no delay.
    public init(maxRetries: Int = 5, backoff: Backoff = Backoff()) {
        precondition(maxRetries >= 0, "maxRetries must not be negative")
        self.maxRetries = maxRetries
        self.backoff = backoff
    }

    /// What to do after a failed attempt.
    public enum Decision: Sendable, Hashable {
        /// Try again after the delay.
        case retry(after: Duration)
        /// Give up: the error is permanent, or the retries are used up.
        case giveUp
    }

    /// Decides what follows a failed attempt.
    ///
    /// - Parameters:
    ///   - error: The attempt's failure.
    ///   - retriesSoFar: How many retries this item has had (0 after the first attempt).
    ///   - previousDelay: The delay before the previous retry, if any.
    ///   - unit: A uniform random value in `0..<1` for jitter.
    public func decide(
        after error: ItemError,
        retriesSoFar: Int,
        previousDelay: Duration?,
        unit: Double
    ) -> Decision {
        guard error.isRetryable, retriesSoFar < maxRetries else { return .giveUp }
        // A server delay of zero ("retry-after: 0") is no reason to hammer it: back off as usual.
        if let serverDelay = error.retryAfter, serverDelay > .zero {
            return .retry(after: serverDelay)
        }
        return .retry(after: backoff.delay(forRetry: retriesSoFar, previous: previousDelay, unit: unit))
    }
}
