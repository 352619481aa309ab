/// Something that happened in a running batch, for progress displays and logs.
///
/// Events are informational and may be dropped by a slow consumer (the stream buffers the
/// newest ones); exact counts are in the ``BatchSummary``.
public enum BatchEvent: Sendable {
    /// The item was admitted and its first attempt is starting.
    case started(index: Int, id: String)
    /// An attempt failed; `retryIn` is the wait before the next one, or `nil` if the item gives up.
    case attemptFailed(index: Int, id: String, attempt: Int, error: ItemError, retryIn: Duration?)
    /// The item ended: succeeded, failed, or (`cancelled`) stopped before it was done;
    /// `tokens` and `costUSD` are what it used, when known.
    case finished(index: Int, id: String, outcome: Outcome, attempts: Int, tokens: TokenUsage?, costUSD: Double?)

    /// How an item ended, for a progress display.
    public enum Outcome: Sendable, Hashable {
        /// It succeeded.
        case succeeded
        /// It failed.
        case failed
        /// It was stopped before it was done.
        case cancelled
    }
}
