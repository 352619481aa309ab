import Foundation
import Hummingbird
import PacerCore
import PacerOpenAI

extension Simulator {
    /// The body of `POST /v1/embeddings`.
    struct EmbeddingsRequest: Decodable {
        var model: String
        var input: TextInputs
        var dimensions: Int?
        var encodingFormat: String?

        enum CodingKeys: String, CodingKey {
            case model, input, dimensions
            case encodingFormat = "encoding_format"
        }
    }

    /// OpenAI's limits on one embeddings request.
    enum EmbeddingLimits {
        /// Inputs per request.
        static let inputs = 2048
        /// Tokens per input.
        static let tokensPerInput = 8192
        /// Tokens in the whole request.
        static let tokensPerRequest = 300_000
    }

    /// `POST /v1/embeddings`: a deterministic unit vector for each input, and its usage.
    func embeddings(_ request: Request, context: SimulatorContext) async throws -> Response {
        let embeddings: EmbeddingsRequest
        switch try await parse(EmbeddingsRequest.self, from: request, endpoint: "embeddings") {
        case .answered(let response): return response
        case .body(let body): embeddings = body
        }
        let inputs = embeddings.input.inputs
        let item = "embeddings:\(inputs.first?.key ?? "")"
        if let exhausted = quotaAnswer(item: item) { return exhausted }
        let tokens = inputs.reduce(0) { $0 + $1.tokens }
        let problem = Self.problem(with: embeddings) ?? rejectedInput(inputs.map(\.text)) { "input[\($0)]" }
        return try await serve(
            item: item,
            context: context,
            tokens: (tokens, problem == nil ? tokens : 0),
            model: embeddings.model
        ) {
            if let problem { return problem }
            let dimensions = embeddings.dimensions ?? Self.defaultDimensions(embeddings.model)
            let base64 = embeddings.encodingFormat == "base64"
            let data = inputs.enumerated().map { index, input in
                let vector = Self.embedding(of: input.key, dimensions: dimensions)
                return EmbeddingsResponse.Embedding(
                    index: index,
                    embedding: base64 ? .base64(Self.base64(vector)) : .float(vector)
                )
            }
            return Answer(
                EmbeddingsResponse(data: data, model: embeddings.model, usage: .init(promptTokens: tokens)),
                tokens: TokenUsage(prompt: tokens, completion: 0, total: tokens)
            )
        }
    }

    /// Why OpenAI would refuse the request, if it would.
    static func problem(with request: EmbeddingsRequest) -> Answer? {
        if let unknown = unknownModel(request.model) { return unknown }
        let inputs = request.input.inputs
        if inputs.isEmpty {
            return invalidRequest("[] is too short - 'input'", param: "input")
        }
        if inputs.count > EmbeddingLimits.inputs {
            return invalidRequest(
                "'$.input' is invalid: \(inputs.count) inputs, at most \(EmbeddingLimits.inputs) are allowed in one request. Please check the API reference: https://platform.openai.com/docs/api-reference.",
                param: "input"
            )
        }
        if let index = inputs.firstIndex(where: { $0 == .text("") || $0 == .tokens([]) }) {
            return invalidRequest(
                "'$.input' is invalid: input[\(index)] is empty. Please check the API reference: https://platform.openai.com/docs/api-reference.",
                param: "input"
            )
        }
        if let longest = inputs.map(\.tokens).max(), longest > EmbeddingLimits.tokensPerInput {
            return invalidRequest(
                "This model's maximum context length is \(EmbeddingLimits.tokensPerInput) tokens, however you requested \(longest) tokens (\(longest) in your prompt; 0 for the completion). Please reduce your prompt; or completion length.",
                param: nil
            )
        }
        let total = inputs.reduce(0) { $0 + $1.tokens }
        if total > EmbeddingLimits.tokensPerRequest {
            return invalidRequest(
                "Requested \(total) tokens, max \(EmbeddingLimits.tokensPerRequest) tokens per request",
                param: nil,
                code: "max_tokens_per_request"
            )
        }
        if let format = request.encodingFormat, format != "float", format != "base64" {
            return invalidRequest(
                "'\(format)' is not one of ['float', 'base64'] - 'encoding_format'",
                param: "encoding_format"
            )
        }
        if let dimensions = request.dimensions {
            guard request.model.hasPrefix("text-embedding-3") else {
                return invalidRequest("This model does not support specifying dimensions.", param: "dimensions")
            }
            let most = defaultDimensions(request.model)
            guard (1...most).contains(dimensions) else {
                return invalidRequest(
                    "Invalid 'dimensions': expected a value within 1...\(most), but got \(dimensions) instead.",
                    param: "dimensions",
                    code: dimensions < 1 ? "integer_below_min_value" : "integer_above_max_value"
                )
            }
        }
        return nil
    }

    /// The length of a model's vectors when the request names none: 3072 for
    /// `text-embedding-3-large`, 1536 for the others.
    static func defaultDimensions(_ model: String) -> Int {
        model.hasPrefix("text-embedding-3-large") ? 3072 : 1536
    }

    /// A unit vector of `dimensions` components drawn from the text's hash: the same text
    /// always gets the same vector, and a shorter one is the start of a longer one
    /// renormalized, as OpenAI shortens its embeddings.
    static func embedding(of text: String, dimensions: Int) -> [Float] {
        var generator = SplitMix64(seed: fnv1a(text))
        let components = (0..<dimensions).map { _ in Double(generator.next() >> 11) / Double(1 << 53) * 2 - 1 }
        let norm = components.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return components.map { Float($0 / norm) }
    }

    /// The little-endian bytes of the float32 components, base64-encoded (OpenAI's
    /// `encoding_format: "base64"`).
    static func base64(_ vector: [Float]) -> String {
        var bytes = [UInt8]()
        bytes.reserveCapacity(vector.count * 4)
        for component in vector {
            withUnsafeBytes(of: component.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
        }
        return Data(bytes).base64EncodedString()
    }

    /// The body of a successful embeddings answer.
    struct EmbeddingsResponse: Encodable {
        /// One input's vector.
        struct Embedding: Encodable {
            /// Floats, or their bytes in base64.
            enum Vector: Encodable {
                case float([Float])
                case base64(String)

                func encode(to encoder: any Encoder) throws {
                    var container = encoder.singleValueContainer()
                    switch self {
                    case .float(let components): try container.encode(components)
                    case .base64(let text): try container.encode(text)
                    }
                }
            }

            var object = "embedding"
            var index: Int
            var embedding: Vector
        }

        /// Embeddings report prompt tokens only.
        struct Usage: Encodable {
            var promptTokens: Int
            var totalTokens: Int

            init(promptTokens: Int) {
                self.promptTokens = promptTokens
                self.totalTokens = promptTokens
            }

            enum CodingKeys: String, CodingKey {
                case promptTokens = "prompt_tokens"
                case totalTokens = "total_tokens"
            }
        }

        var object = "list"
        var data: [Embedding]
        var model: String
        var usage: Usage
    }
}
