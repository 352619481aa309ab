import PacerCore

/// A model's price in USD per million tokens.
public struct ModelPrice: Sendable, Hashable, Codable {
    /// USD per 1M prompt (input) tokens.
    public var inputPerMillion: Double
    /// USD per 1M completion (output) tokens.
    public var outputPerMillion: Double

    /// Creates a price.
    public init(inputPerMillion: Double, outputPerMillion: Double) {
        self.inputPerMillion = inputPerMillion
        self.outputPerMillion = outputPerMillion
    }

    /// The cost of a usage at this price, in USD.
    public func cost(of usage: TokenUsage) -> Double {
        (Double(usage.prompt) * inputPerMillion + Double(usage.completion) * outputPerMillion) / 1_000_000
    }
}

/// Prices per model, for estimating what a batch cost.
///
/// An unknown model has no price: its cost is "unknown", never $0. A dated snapshot name
/// (`gpt-4o-mini-2024-07-18`) uses its base model's price.
public struct PricingTable: Sendable, Hashable {
    /// Prices by model name.
    public var prices: [String: ModelPrice]

    /// Creates a table.
    public init(prices: [String: ModelPrice]) { self.prices = prices }

    /// OpenAI's list prices (standard tier, USD per 1M tokens) for common chat models.
    ///
    /// Prices change; pass your own table (or `--price-in/--price-out`) when it matters.
    public static let builtIn = PricingTable(prices: [
        "gpt-3.5-turbo": ModelPrice(inputPerMillion: 0.50, outputPerMillion: 1.50),
        "gpt-4o": ModelPrice(inputPerMillion: 2.50, outputPerMillion: 10.00),
        "gpt-4o-mini": ModelPrice(inputPerMillion: 0.15, outputPerMillion: 0.60),
        "gpt-4.1": ModelPrice(inputPerMillion: 2.00, outputPerMillion: 8.00),
        "gpt-4.1-mini": ModelPrice(inputPerMillion: 0.40, outputPerMillion: 1.60),
        "gpt-4.1-nano": ModelPrice(inputPerMillion: 0.10, outputPerMillion: 0.40),
        "gpt-4-turbo": ModelPrice(inputPerMillion: 10.00, outputPerMillion: 30.00),
    ])

    /// The price of a model, if known.
    public func price(for model: String) -> ModelPrice? {
        if let price = prices[model] { return price }
        // "gpt-4o-mini-2024-07-18" → "gpt-4o-mini": strip a trailing date snapshot.
        let parts = model.split(separator: "-")
        if parts.count > 3, parts.suffix(3).allSatisfy({ $0.allSatisfy(\.isNumber) }) {
            return prices[parts.dropLast(3).joined(separator: "-")]
        }
        return nil
    }

    /// The cost of a usage for a model, or `nil` when the model's price is unknown.
    public func cost(of usage: TokenUsage, model: String) -> Double? {
        price(for: model)?.cost(of: usage)
    }
}
