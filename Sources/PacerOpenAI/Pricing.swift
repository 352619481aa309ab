import Foundation
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

    enum CodingKeys: String, CodingKey {
        case inputPerMillion = "input_per_million"
        case outputPerMillion = "output_per_million"
    }

    /// The cost of a usage at this price, in USD.
    public func cost(of usage: TokenUsage) -> Double {
        (Double(usage.prompt) * inputPerMillion + Double(usage.completion) * outputPerMillion) / 1_000_000
    }
}

/// Prices per model, for estimating what a batch cost.
///
/// An unknown model has no price: its cost is "unknown", never $0. A dated snapshot name
/// (`gpt-4o-mini-2024-07-18`, `claude-haiku-4-5-20251001`) uses its base model's price.
public struct PricingTable: Sendable, Hashable {
    /// Prices by model name.
    public var prices: [String: ModelPrice]
    /// A price for every model, overriding the table (`--price-in`/`--price-out`).
    public var everyModel: ModelPrice?

    /// Creates a table.
    public init(prices: [String: ModelPrice], everyModel: ModelPrice? = nil) {
        self.prices = prices
        self.everyModel = everyModel
    }

    /// OpenAI's list prices (standard tier, USD per 1M tokens) for common chat and embedding
    /// models, compiled in (`listPrices`). Prices change: give your own file (`--prices`)
    /// or `--price-in/--price-out` when it matters.
    public static let builtIn = PricingTable(prices: listPrices)

    /// Reads a table in the format of a `--prices` file:
    /// `{"model": {"input_per_million": 0.15, "output_per_million": 0.6}, …}`.
    public init(json: Data) throws {
        self.init(prices: try JSONDecoder().decode([String: ModelPrice].self, from: json))
    }

    /// This table with `other`'s prices added, replacing any for the same model.
    public func merging(_ other: PricingTable) -> PricingTable {
        PricingTable(prices: prices.merging(other.prices) { $1 }, everyModel: other.everyModel ?? everyModel)
    }

    /// The price of a model, if known.
    public func price(for model: String) -> ModelPrice? {
        if let everyModel { return everyModel }
        if let price = prices[model] { return price }
        let parts = model.split(separator: "-")
        // "claude-haiku-4-5-20251001" → "claude-haiku-4-5": Anthropic's snapshots end in YYYYMMDD.
        if parts.count > 1, let last = parts.last, last.count == 8, last.allSatisfy(\.isNumber) {
            return prices[parts.dropLast().joined(separator: "-")]
        }
        // "gpt-4o-mini-2024-07-18" → "gpt-4o-mini": strip a trailing date snapshot.
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
