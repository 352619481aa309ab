/// One unit of work in a batch: an input with its position and its identifier.
public struct BatchItem<Input: Sendable>: Sendable {
    /// The 0-based position of the item in the input.
    public var index: Int
    /// The item's identifier: given by the input, or its 1-based line number.
    public var id: String
    /// What the operation works on.
    public var input: Input

    /// Creates an item.
    public init(index: Int, id: String, input: Input) {
        self.index = index
        self.id = id
        self.input = input
    }
}

extension BatchItem: Equatable where Input: Equatable {}

/// How an item ended.
public struct ItemResult<Output: Sendable>: Sendable {
    /// The 0-based position of the item in the input.
    public var index: Int
    /// The item's identifier.
    public var id: String
    /// The output, or the error of the last attempt.
    public var outcome: Result<Output, ItemError>
    /// Attempts made, including the first.
    public var attempts: Int
    /// The cause of each failed attempt, in order.
    public var attemptErrors: [ItemError]
    /// Time from the first attempt's start (after any wait for the rate limit) to the end of
    /// the last, backoff included; zero for an item never sent.
    public var latency: Duration

    /// Creates a result.
    public init(
        index: Int,
        id: String,
        outcome: Result<Output, ItemError>,
        attempts: Int,
        attemptErrors: [ItemError],
        latency: Duration
    ) {
        self.index = index
        self.id = id
        self.outcome = outcome
        self.attempts = attempts
        self.attemptErrors = attemptErrors
        self.latency = latency
    }

    /// Whether the item succeeded.
    public var isSuccess: Bool {
        if case .success = outcome { return true }
        return false
    }

    /// The output, if the item succeeded.
    public var output: Output? { try? outcome.get() }

    /// The final error, if the item failed.
    public var error: ItemError? {
        if case .failure(let error) = outcome { return error }
        return nil
    }
}

/// Token counts of a model call, as reported in OpenAI's `usage`.
public struct TokenUsage: Sendable, Hashable, Codable {
    /// Tokens in the prompt.
    public var prompt: Int
    /// Tokens generated.
    public var completion: Int
    /// Prompt plus completion, as the server reported it.
    public var total: Int

    /// Creates a usage record; `total` defaults to `prompt + completion`.
    public init(prompt: Int = 0, completion: Int = 0, total: Int? = nil) {
        self.prompt = prompt
        self.completion = completion
        self.total = total ?? prompt + completion
    }

    /// Adds two usages field by field.
    public static func + (lhs: TokenUsage, rhs: TokenUsage) -> TokenUsage {
        TokenUsage(
            prompt: lhs.prompt + rhs.prompt,
            completion: lhs.completion + rhs.completion,
            total: lhs.total + rhs.total
        )
    }
}

/// An output that reports the tokens and the cost it consumed, for the batch summary.
///
/// Both default to `nil` (nothing to report). A cost of `nil` means "unknown", never zero.
public protocol MeteredOutput: Sendable {
    /// Tokens used by the item, if it used any.
    var tokenUsage: TokenUsage? { get }
    /// The item's estimated cost in USD, or `nil` when unknown.
    var costUSD: Double? { get }
    /// What the response said about the server's rate limits, for pacing.
    var rateLimit: RateLimitSnapshot? { get }
    /// Where the summary counts the item's tokens and cost: its endpoint and model; `nil`
    /// counts them only in the totals.
    var usageKey: UsageKey? { get }
    /// How the answer streamed in, when it was streamed.
    var streamTiming: StreamTiming? { get }
    /// Whether the answer was kept from an earlier run (``BatchOperation/storedOutput(for:)``)
    /// rather than asked for: its tokens and cost were not spent again.
    var isCached: Bool { get }
}

/// The endpoint and model an item's tokens and cost are counted under in the summary.
public struct UsageKey: Sendable, Hashable, Codable, Comparable {
    /// The endpoint's path below the API root, e.g. `chat/completions`, `embeddings`.
    public var endpoint: String
    /// The model that answered.
    public var model: String

    /// Creates a key.
    public init(endpoint: String, model: String) {
        self.endpoint = endpoint
        self.model = model
    }

    /// By endpoint, then model.
    public static func < (lhs: UsageKey, rhs: UsageKey) -> Bool {
        (lhs.endpoint, lhs.model) < (rhs.endpoint, rhs.model)
    }
}

extension MeteredOutput {
    /// No token usage by default.
    public var tokenUsage: TokenUsage? { nil }
    /// No known cost by default.
    public var costUSD: Double? { nil }
    /// Asked for, by default.
    public var isCached: Bool { false }
    /// No rate-limit information by default.
    public var rateLimit: RateLimitSnapshot? { nil }
    /// Counted only in the totals by default.
    public var usageKey: UsageKey? { nil }
    /// Not streamed by default.
    public var streamTiming: StreamTiming? { nil }
}
