import Foundation
import Hummingbird
import PacerOpenAI

/// The texts an `input` or `prompt` member carries: a string, an array of strings, an array
/// of token ids (one tokenized text) or an array of arrays of token ids.
struct TextInputs: Decodable, Sendable {
    /// One input: a text, or a text already tokenized.
    enum Input: Sendable, Hashable {
        case text(String)
        case tokens([Int])

        /// The text, or `nil` for token ids.
        var text: String? {
            if case .text(let text) = self { return text }
            return nil
        }

        /// The input as the simulator names and seeds it: the text, or the ids as a JSON array.
        var key: String {
            switch self {
            case .text(let text): text
            case .tokens(let ids): "[" + ids.map(String.init).joined(separator: ",") + "]"
            }
        }

        /// Its tokens: ``TokenEstimate/text(_:)`` of a text, the count of token ids.
        var tokens: Int {
            switch self {
            case .text(let text): TokenEstimate.text(text)
            case .tokens(let ids): ids.count
            }
        }
    }

    /// The inputs, in order.
    var inputs: [Input]

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            inputs = [.text(text)]
        } else if let texts = try? container.decode([String].self) {
            inputs = texts.map(Input.text)
        } else if let ids = try? container.decode([Int].self) {
            // `[]` decodes as strings above, so an array of ids here is never empty.
            inputs = [.tokens(ids)]
        } else {
            inputs = try container.decode([[Int]].self).map(Input.tokens)
        }
    }
}

extension Simulator {
    /// A request body decoded, or the response that already answered it.
    enum Parsed<Body> {
        case body(Body)
        case answered(Response)
    }

    /// The first steps of every API request but chat: read the body, check the key, decode.
    ///
    /// A request without the key is counted as `"<endpoint>:unauthorized"`, one whose body
    /// does not decode as `"<endpoint>:invalid"`; both are answered here, as chat answers them.
    func parse<Body: Decodable>(
        _ type: Body.Type,
        from request: Request,
        endpoint: String
    ) async throws -> Parsed<Body> {
        let bytes = try await request.body.collect(upTo: 4 << 20)
        if let denied = checkKey(request) {
            stats.recordRequest(item: "\(endpoint):unauthorized")
            return .answered(denied)
        }
        let data = Data(bytes.readableBytesView)
        do {
            return .body(try JSONDecoder().decode(Body.self, from: data))
        } catch {
            stats.recordRequest(item: "\(endpoint):invalid")
            let (message, param, code) = Self.describe(
                error,
                isJSON: (try? JSONSerialization.jsonObject(with: data)) != nil
            )
            return .answered(
                failure(.badRequest, message: message, type: "invalid_request_error", param: param, code: code)
            )
        }
    }

    /// OpenAI-like wording for a body that does not decode.
    private static func describe(_ error: any Error, isJSON: Bool) -> (message: String, param: String?, code: String?) {
        guard isJSON, let error = error as? DecodingError else {
            return ("We could not parse the JSON body of your request.", nil, nil)
        }
        switch error {
        case .keyNotFound(let key, let context):
            let path = Self.path(context.codingPath + [key])
            return ("Missing required parameter: '\(path)'.", path, "missing_required_parameter")
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            let path = Self.path(context.codingPath)
            return (
                "Invalid type for '\(path)'. Please check the API reference: https://platform.openai.com/docs/api-reference.",
                path,
                "invalid_type"
            )
        @unknown default:
            return ("We could not parse the JSON body of your request.", nil, nil)
        }
    }

    /// `input[2].content`: a coding path as OpenAI names parameters.
    private static func path(_ keys: [any CodingKey]) -> String {
        keys.reduce("") { path, key in
            if let index = key.intValue { return path + "[\(index)]" }
            return path.isEmpty ? key.stringValue : path + "." + key.stringValue
        }
    }

    /// The 429 `insufficient_quota` every API request gets when the quota is exhausted, or
    /// `nil`; counts the request as `item` when it answers.
    func quotaAnswer(item: String) -> Response? {
        guard configuration.quotaExhausted else { return nil }
        stats.recordRequest(item: item)
        return failure(
            .tooManyRequests,
            message: "You exceeded your current quota, please check your plan and billing details.",
            type: "insufficient_quota",
            code: "insufficient_quota"
        )
    }

    /// A 400 `invalid_request_error` answer.
    static func invalidRequest(_ message: String, param: String?, code: String? = nil) -> Answer {
        if SimulatorDialect.current == .anthropic {
            return Answer(
                AnthropicErrorBody(error: .init(type: "invalid_request_error", message: message)),
                status: .badRequest
            )
        }
        return Answer(
            OpenAIErrorBody(error: .init(message: message, type: "invalid_request_error", param: param, code: code)),
            status: .badRequest
        )
    }

    /// The 404 for a model named `unknown-…`, as chat answers it, or `nil`.
    static func unknownModel(_ model: String) -> Answer? {
        guard model.hasPrefix("unknown-") else { return nil }
        return Answer(
            OpenAIErrorBody(
                error: .init(
                    message: "The model `\(model)` does not exist or you do not have access to it.",
                    type: "invalid_request_error",
                    param: nil,
                    code: "model_not_found"
                )
            ),
            status: .notFound
        )
    }

    /// The 400 of ``SimulatorConfiguration/rejectInputContaining`` when one of `texts`
    /// contains the word, naming the first such one as `param(index)`; else `nil`.
    func rejectedInput(_ texts: [String?], param: (Int) -> String) -> Answer? {
        guard let word = configuration.rejectInputContaining,
            let index = texts.firstIndex(where: { $0?.contains(word) ?? false })
        else { return nil }
        let name = param(index)
        return Self.invalidRequest(
            "Invalid '\(name)': the input contains '\(word)', which this server rejects (simulated).",
            param: name,
            code: "invalid_value"
        )
    }
}
