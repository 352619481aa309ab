/// What a request may cost before it is sent: its model, estimated input tokens, the most
/// output tokens it allows, and the cost of both at the model's price. For `--dry-run` and
/// the `--max-cost` guard.
public struct CostEstimate: Sendable, Hashable {
    /// The model the request names.
    public var model: String
    /// Estimated input tokens (about four bytes a token; the simulator counts the same way).
    public var inputTokens: Int
    /// The most output tokens the request allows (`max_tokens` and the like, or the
    /// endpoint's default allowance when it sets none).
    public var maxOutputTokens: Int
    /// The cost of the input alone, in USD; `nil` when the model's price is unknown.
    public var minUSD: Double?
    /// The cost of the input and the most output, in USD; `nil` when the price is unknown.
    public var maxUSD: Double?

    /// An estimate priced with `pricing`.
    public init(model: String, inputTokens: Int, maxOutputTokens: Int, pricing: PricingTable) {
        self.model = model
        self.inputTokens = inputTokens
        self.maxOutputTokens = maxOutputTokens
        let price = pricing.price(for: model)
        minUSD = price.map { Double(inputTokens) * $0.inputPerMillion / 1e6 }
        maxUSD = price.map {
            Double(inputTokens) * $0.inputPerMillion / 1e6 + Double(maxOutputTokens) * $0.outputPerMillion / 1e6
        }
    }
}

extension ChatClient {
    /// What a prompt may cost: its messages, and its `max_tokens` or
    /// ``TokenEstimate/defaultCompletionAllowance``.
    public func costEstimate(for prompt: ChatPrompt) -> CostEstimate {
        let request = request(for: prompt)
        return CostEstimate(
            model: request.model,
            inputTokens: TokenEstimate.prompt(request.messages),
            maxOutputTokens: request.maxTokens ?? TokenEstimate.defaultCompletionAllowance,
            pricing: configuration.pricing
        )
    }
}

extension APIClient {
    /// What a request may cost (``APIEndpoint/tokenEstimate(of:)``); moderations are free.
    public func costEstimate(for request: APIRequest) -> CostEstimate {
        let (input, output) = request.endpoint.tokenEstimate(of: request.body)
        var estimate = CostEstimate(
            model: request.model ?? "unknown",
            inputTokens: input,
            maxOutputTokens: output,
            pricing: configuration.pricing
        )
        if request.endpoint == .moderations {
            estimate.minUSD = 0
            estimate.maxUSD = 0
        }
        return estimate
    }
}

extension EmbeddingsClient {
    /// What embedding a text may cost: its tokens, no output.
    public func costEstimate(for input: EmbeddingInput) -> CostEstimate {
        CostEstimate(
            model: configuration.model,
            inputTokens: input.estimatedTokens,
            maxOutputTokens: 0,
            pricing: configuration.api.pricing
        )
    }

    /// What a pack may cost: the sum of its texts'.
    public func costEstimate(for pack: EmbeddingPack) -> CostEstimate {
        CostEstimate(
            model: configuration.model,
            inputTokens: pack.estimatedTokens,
            maxOutputTokens: 0,
            pricing: configuration.api.pricing
        )
    }
}
