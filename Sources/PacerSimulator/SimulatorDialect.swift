import Foundation

/// The vocabulary an answer speaks: OpenAI's (every endpoint but one), or Anthropic's Messages
/// API. A task-local, set for its request by the `/v1/messages` handler, so that the paths every
/// endpoint shares (the rate limiter, the injected faults, the error answers) write their errors
/// and headers in the request's own API.
enum SimulatorDialect: Sendable, Hashable {
    case openAI
    case anthropic

    /// The dialect of the request being served.
    @TaskLocal static var current: SimulatorDialect = .openAI

    /// The header that carries the request's id: `x-request-id`, or Anthropic's `request-id`.
    var requestIDHeader: String { self == .anthropic ? "request-id" : "x-request-id" }

    /// A limit's headers: OpenAI's `x-ratelimit-{limit,remaining,reset}-KIND` (the reset as a
    /// duration, `1s`), or Anthropic's `anthropic-ratelimit-KIND-{limit,remaining,reset}` (the
    /// reset as an RFC 3339 time).
    func rateLimitHeaders(kind: String, limit: Int, remaining: Int, resetSeconds: Double) -> [(String, String)] {
        switch self {
        case .openAI:
            return [
                ("x-ratelimit-limit-\(kind)", String(limit)),
                ("x-ratelimit-remaining-\(kind)", String(remaining)),
                ("x-ratelimit-reset-\(kind)", SimulatorLimiter.format(resetSeconds)),
            ]
        case .anthropic:
            let reset = Date().addingTimeInterval(resetSeconds.rounded(.up))
            return [
                ("anthropic-ratelimit-\(kind)-limit", String(limit)),
                ("anthropic-ratelimit-\(kind)-remaining", String(remaining)),
                ("anthropic-ratelimit-\(kind)-reset", reset.formatted(.iso8601)),
            ]
        }
    }
}

/// An error as Anthropic's API writes it: `{"type": "error", "error": {"type", "message"}}`.
struct AnthropicErrorBody: Encodable {
    struct Detail: Encodable {
        var type: String
        var message: String
    }

    var type = "error"
    var error: Detail

    /// Anthropic's status and error type for an OpenAI-style failure: 529 `overloaded_error`
    /// for an overloaded server (OpenAI's 503), `api_error`, `rate_limit_error`,
    /// `authentication_error`, `not_found_error`, `request_too_large`, else
    /// `invalid_request_error`.
    static func translating(status: Int) -> (status: Int, type: String) {
        switch status {
        case 503, 529: (529, "overloaded_error")
        case 500...599: (status, "api_error")
        case 429: (429, "rate_limit_error")
        case 401: (401, "authentication_error")
        case 403: (403, "permission_error")
        case 404: (404, "not_found_error")
        case 413: (413, "request_too_large")
        default: (status, "invalid_request_error")
        }
    }
}
