/// What a server said about its rate limits in one response (OpenAI's `x-ratelimit-*` headers).
///
/// Every field is optional: a header that is missing, negative or unparseable is `nil`
/// ("unknown"), never zero capacity.
public struct RateLimitSnapshot: Sendable, Hashable {
    /// `x-ratelimit-limit-requests`: requests allowed per minute.
    public var requestLimit: Int?
    /// `x-ratelimit-limit-tokens`: tokens allowed per minute.
    public var tokenLimit: Int?
    /// `x-ratelimit-remaining-requests`.
    public var remainingRequests: Int?
    /// `x-ratelimit-remaining-tokens`.
    public var remainingTokens: Int?
    /// `x-ratelimit-reset-requests`: when the request budget is whole again.
    public var resetRequests: Duration?
    /// `x-ratelimit-reset-tokens`: when the token budget is whole again.
    public var resetTokens: Duration?

    /// Creates a snapshot.
    public init(
        requestLimit: Int? = nil,
        tokenLimit: Int? = nil,
        remainingRequests: Int? = nil,
        remainingTokens: Int? = nil,
        resetRequests: Duration? = nil,
        resetTokens: Duration? = nil
    ) {
        self.requestLimit = requestLimit
        self.tokenLimit = tokenLimit
        self.remainingRequests = remainingRequests
        self.remainingTokens = remainingTokens
        self.resetRequests = resetRequests
        self.resetTokens = resetTokens
    }

    /// Whether the server said anything at all.
    public var isEmpty: Bool { self == RateLimitSnapshot() }
}
