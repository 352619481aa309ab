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
        /// that pacing stays smooth and no pack waits long for its tokens. The answer is
        /// bounded too: at most ``answerBudget`` bytes of vectors (2,048 vectors of 1,536
        /// floats are about 35 MB of JSON). `pack` (the `--pack` flag) sets the inputs per
        /// request instead.
        ///
        /// - Parameters:
        ///   - tokensPerMinute: The tokens-per-minute limit, if one is known.
        ///   - pack: The inputs per request `--pack` asks for, if it does.
        ///   - bytesPerEmbedding: About how many bytes one vector takes in the answer
        ///     (``bytesPerEmbedding(dimensions:base64:)``).
        public static func from(tokensPerMinute: Double?, pack: Int?, bytesPerEmbedding: Int = 0) -> Limits {
            var tokens = 150_000
            if let tokensPerMinute, tokensPerMinute > 0 {
                // Compared as a Double first: a limit of 1e30 has no Int.
                tokens = max(1, Int(min(Double(tokens), tokensPerMinute / 30)))
            }
            let inputs = pack ?? min(2048, max(1, answerBudget / max(1, bytesPerEmbedding)))
            return Limits(maxInputs: inputs, maxTokens: tokens)
        }

        /// The most bytes of vectors one answer is planned to hold: 8 MiB.
        public static let answerBudget = 8 << 20

        /// About how many bytes a vector of `dimensions` takes in an answer: 11 a float as
        /// JSON text, 16/3 in base64, plus the element's keys.
        public static func bytesPerEmbedding(dimensions: Int, base64: Bool) -> Int {
            (base64 ? dimensions * 16 / 3 : dimensions * 11) + 64
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
