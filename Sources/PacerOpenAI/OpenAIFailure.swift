import Foundation
import NIOCore
import PacerCore
import PacerHTTP

/// How an OpenAI-compatible server's error answers become `ItemError`s, for every endpoint.
enum OpenAIFailure {
    /// The error for a non-2xx answer, with OpenAI's message when the body has one.
    static func error(for response: HTTPResponseData) -> ItemError {
        let detail = try? JSONDecoder().decode(OpenAIErrorBody.self, from: Data(response.body.readableBytesView)).error
        let message =
            detail.map { "\($0.message)" + ($0.code.map { " [\($0)]" } ?? "") }
            ?? HTTPFailure.excerpt(of: response.body)
        var error = HTTPFailure.error(status: response.status, headers: response.headers, message: message)
        if response.status == 429, detail?.code == "insufficient_quota" || detail?.type == "insufficient_quota" {
            // A spent quota does not come back by waiting.
            error.isRetryable = false
        }
        if response.status == 429, let detail, Self.isLargerThanLimit(detail.message) {
            // "Request too large … Limit 30000, Requested 31538": no wait makes it fit.
            error.isRetryable = false
        }
        return error
    }

    /// Whether a rate-limit message says the request alone exceeds the limit
    /// (OpenAI: "… Limit 30000, Requested 31538 …").
    static func isLargerThanLimit(_ message: String) -> Bool {
        func number(after label: String) -> Int? {
            guard let range = message.range(of: label) else { return nil }
            return Int(message[range.upperBound...].prefix { $0.isNumber })
        }
        guard let limit = number(after: "Limit "), let requested = number(after: "Requested ") else { return false }
        return requested > limit
    }
}
