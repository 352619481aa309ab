/// Packs texts into embeddings requests in input order, each as full as the limits allow: so
/// that a batch limited at thousands of requests a minute is limited by tokens, not requests.
///
/// A pure value type: feed it inputs with ``add(_:)``, take the last pack with ``flush()``.
public struct EmbeddingPacker: Sendable {
    /// How large a pack may be.
    public struct Limits: Sendable, Hashable {
        /// The most inputs in one request. OpenAI takes 2,048.
        public var maxInputs: Int
        /// The most estimated tokens in one request.
        public var maxTokens: Int

        /// Creates limits.
        public init(maxInputs: Int = 2048, maxTokens: Int = 150_000) {
            self.maxInputs = max(1, maxInputs)
            self.maxTokens = max(1, maxTokens)
        }

        /// OpenAI's per-request limits are 2,048 inputs and 300,000 tokens; Pacer packs to
        /// half the tokens, since its estimate (four bytes a token) can be short for some
        /// scripts. With a tokens-per-minute limit a pack holds at most two seconds of it, so
        /// that pacing stays smooth and no pack waits long for its tokens. `pack` (the
        /// `--pack` flag) sets the inputs per request instead of 2,048.
        public static func from(tokensPerMinute: Double?, pack: Int?) -> Limits {
            var tokens = 150_000
            if let tokensPerMinute, tokensPerMinute > 0 {
                tokens = min(tokens, max(1, Int(tokensPerMinute / 30)))
            }
            return Limits(maxInputs: pack ?? 2048, maxTokens: tokens)
        }
    }

    /// The limits packs are made to.
    public let limits: Limits
    private var pending: [EmbeddingInput] = []
    private var pendingTokens = 0

    /// Creates a packer.
    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Adds an input; returns the pack it closed, when it did not fit in the current one. An
    /// input larger than the token limit alone makes a pack of its own (the server judges it).
    public mutating func add(_ input: EmbeddingInput) -> EmbeddingPack? {
        let tokens = input.estimatedTokens
        var closed: EmbeddingPack?
        if !pending.isEmpty,
            pending.count >= limits.maxInputs || pendingTokens.saturatingAdd(tokens) > limits.maxTokens
        {
            closed = flush()
        }
        pending.append(input)
        pendingTokens = pendingTokens.saturatingAdd(tokens)
        return closed
    }

    /// The pack being filled, if any; the packer is empty afterwards.
    public mutating func flush() -> EmbeddingPack? {
        guard !pending.isEmpty else { return nil }
        defer {
            pending = []
            pendingTokens = 0
        }
        return EmbeddingPack(pending)
    }
}
