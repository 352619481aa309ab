/// OpenAI's and Anthropic's list prices (standard tier, USD per 1M tokens) for common models, compiled into
/// the binary: a `pacer` copied alone onto another machine knows them as the build does (a
/// resource bundle is looked up beside the build, and its absence stopped the process).
extension PricingTable {
    static let listPrices: [String: ModelPrice] = [
        "gpt-3.5-turbo": ModelPrice(inputPerMillion: 0.50, outputPerMillion: 1.50),
        "gpt-3.5-turbo-instruct": ModelPrice(inputPerMillion: 1.50, outputPerMillion: 2.00),
        "gpt-4-turbo": ModelPrice(inputPerMillion: 10.00, outputPerMillion: 30.00),
        "gpt-4o": ModelPrice(inputPerMillion: 2.50, outputPerMillion: 10.00),
        "gpt-4o-mini": ModelPrice(inputPerMillion: 0.15, outputPerMillion: 0.60),
        "gpt-4.1": ModelPrice(inputPerMillion: 2.00, outputPerMillion: 8.00),
        "gpt-4.1-mini": ModelPrice(inputPerMillion: 0.40, outputPerMillion: 1.60),
        "gpt-4.1-nano": ModelPrice(inputPerMillion: 0.10, outputPerMillion: 0.40),
        "davinci-002": ModelPrice(inputPerMillion: 2.00, outputPerMillion: 2.00),
        "babbage-002": ModelPrice(inputPerMillion: 0.40, outputPerMillion: 0.40),
        "text-embedding-3-small": ModelPrice(inputPerMillion: 0.02, outputPerMillion: 0.00),
        "text-embedding-3-large": ModelPrice(inputPerMillion: 0.13, outputPerMillion: 0.00),
        "text-embedding-ada-002": ModelPrice(inputPerMillion: 0.10, outputPerMillion: 0.00),
        "omni-moderation-latest": ModelPrice(inputPerMillion: 0.00, outputPerMillion: 0.00),
        "text-moderation-latest": ModelPrice(inputPerMillion: 0.00, outputPerMillion: 0.00),
        // Anthropic's list prices (base input and output; prompt-cache reads and writes are
        // priced as input here, an overestimate of reads).
        "claude-opus-4-5": ModelPrice(inputPerMillion: 5.00, outputPerMillion: 25.00),
        "claude-opus-4-1": ModelPrice(inputPerMillion: 15.00, outputPerMillion: 75.00),
        "claude-sonnet-4-5": ModelPrice(inputPerMillion: 3.00, outputPerMillion: 15.00),
        "claude-sonnet-4-0": ModelPrice(inputPerMillion: 3.00, outputPerMillion: 15.00),
        "claude-haiku-4-5": ModelPrice(inputPerMillion: 1.00, outputPerMillion: 5.00),
        "claude-3-5-haiku-latest": ModelPrice(inputPerMillion: 0.80, outputPerMillion: 4.00),
    ]
}
