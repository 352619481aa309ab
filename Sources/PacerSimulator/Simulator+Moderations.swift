import Foundation
import Hummingbird
import PacerCore
import PacerOpenAI

extension Simulator {
    /// The body of `POST /v1/moderations`.
    struct ModerationsRequest: Decodable {
        var model: String?
        var input: TextInputs
    }

    /// The categories OpenAI's moderation models report, in its order.
    static let moderationCategories = [
        "harassment", "harassment/threatening", "hate", "hate/threatening", "illicit", "illicit/violent",
        "self-harm", "self-harm/instructions", "self-harm/intent", "sexual", "sexual/minors", "violence",
        "violence/graphic",
    ]

    /// The word whose presence flags an input (as `violence`), so that tests see both verdicts.
    static let flaggedWord = "attack"

    /// `POST /v1/moderations`: one deterministic result per input.
    ///
    /// The answer reports no usage; the inputs' ``TokenEstimate/text(_:)`` count as prompt
    /// tokens in the stats and against the tokens-per-minute limit.
    func moderations(_ request: Request, context: SimulatorContext) async throws -> Response {
        let moderations: ModerationsRequest
        switch try await parse(ModerationsRequest.self, from: request, endpoint: "moderations") {
        case .answered(let response): return response
        case .body(let body): moderations = body
        }
        let inputs = moderations.input.inputs
        let item = "moderations:\(inputs.first?.key ?? "")"
        if let exhausted = quotaAnswer(item: item) { return exhausted }
        let model = moderations.model ?? "omni-moderation-latest"
        let tokens = inputs.reduce(0) { $0 + $1.tokens }
        let problem =
            Self.moderationProblem(inputs, model: model) ?? rejectedInput(inputs.map(\.text)) { "input[\($0)]" }
        return try await serve(
            item: item,
            context: context,
            tokens: (tokens, problem == nil ? tokens : 0),
            model: model
        ) {
            if let problem { return problem }
            let seed = inputs.reduce(UInt64(0)) { $0 &* 31 &+ Self.fnv1a($1.key) }
            return Answer(
                ModerationsResponse(
                    id: "modr-sim\(String(seed, radix: 16))",
                    model: model,
                    results: inputs.map { Self.moderation(of: $0.text ?? "") }
                ),
                tokens: TokenUsage(prompt: tokens, completion: 0, total: tokens)
            )
        }
    }

    /// Why OpenAI would refuse the request, if it would: moderations take texts only.
    static func moderationProblem(_ inputs: [TextInputs.Input], model: String) -> Answer? {
        if let unknown = unknownModel(model) { return unknown }
        if inputs.isEmpty {
            return invalidRequest("[] is too short - 'input'", param: "input")
        }
        if inputs.contains(where: { $0.text == nil }) {
            return invalidRequest(
                "'$.input' is invalid: moderations take a string or an array of strings. Please check the API reference: https://platform.openai.com/docs/api-reference.",
                param: "input"
            )
        }
        return nil
    }

    /// A text's verdict: flagged for `violence` when it contains ``flaggedWord`` (any case),
    /// with small scores drawn from its hash elsewhere.
    static func moderation(of text: String) -> ModerationsResponse.Result {
        let flagged = text.lowercased().contains(flaggedWord)
        var generator = SplitMix64(seed: fnv1a(text))
        var categories: [String: Bool] = [:]
        var scores: [String: Double] = [:]
        var inputTypes: [String: [String]] = [:]
        for category in moderationCategories {
            let hit = flagged && category == "violence"
            categories[category] = hit
            // Below 0.01 unless flagged, with six significant digits like OpenAI's.
            let small = Double(generator.next() % 10_000) / 1_000_000
            scores[category] = hit ? 0.9 + small : small
            inputTypes[category] = ["text"]
        }
        return .init(
            flagged: flagged,
            categories: categories,
            categoryScores: scores,
            categoryAppliedInputTypes: inputTypes
        )
    }

    /// The body of a successful moderation answer.
    struct ModerationsResponse: Encodable {
        /// One input's verdict.
        struct Result: Encodable {
            var flagged: Bool
            var categories: [String: Bool]
            var categoryScores: [String: Double]
            var categoryAppliedInputTypes: [String: [String]]

            enum CodingKeys: String, CodingKey {
                case flagged, categories
                case categoryScores = "category_scores"
                case categoryAppliedInputTypes = "category_applied_input_types"
            }
        }

        var id: String
        var model: String
        var results: [Result]
    }
}
