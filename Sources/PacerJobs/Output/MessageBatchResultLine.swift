import Foundation
import PacerCore
import PacerJSON
import PacerOpenAI

/// One line of an Anthropic Message Batch results file, as Anthropic writes them:
/// `{"custom_id", "result": {"type": "succeeded" | "errored" | "canceled" | "expired", …}}`.
///
/// - A 2xx answer: `{"type": "succeeded", "message": …}` with the server's body exactly as
///   sent (on one line).
/// - An HTTP error whose body is Anthropic's error (`{"type": "error", "error": {"type",
///   "message"}}`): `{"type": "errored", "error": …}` with that body as sent.
/// - Any other failure (a timeout, a connection failure, a proxy's page, a line that could
///   not be read): `errored` with an error Pacer writes in Anthropic's shape, its `type` the
///   one Anthropic gives the status (`rate_limit_error` for 429, `overloaded_error` for 529,
///   `timeout_error` for a timeout, else `api_error` or `invalid_request_error`).
/// - An item a batch ended without running: `canceled` or `expired`.
///
/// The journal reads `result.type`: `succeeded` is the only success.
package struct MessageBatchResultLine: OutputRecord {
    /// What the line's `result` holds.
    package enum Result {
        /// The message, as JSON text.
        case succeeded(message: String)
        /// An Anthropic error response, as JSON text.
        case errored(error: String)
        /// Not run: the batch was cancelled.
        case canceled
        /// Not run: the batch's window passed.
        case expired
    }

    /// The request's `custom_id`.
    package var customID: String
    /// What came of it.
    package var result: Result
    /// The answer came from the response cache (`--cache`): written as `"cached": true`.
    package var cached = false

    /// The line for an item's result.
    package init(_ result: ItemResult<APIResponse>) {
        customID = result.id
        switch result.outcome {
        case .success(let answer):
            self.result = .succeeded(message: answer.body)
            cached = answer.isCached
        case .failure(let failure):
            if let body = failure.responseBody, Self.isErrorResponse(body) {
                self.result = .errored(error: body)
            } else {
                self.result = .errored(
                    error: Self.errorResponse(type: Self.errorType(of: failure), message: failure.message)
                )
            }
        }
    }

    /// The line for an input line that could not be read (`--skip-invalid`).
    package static func invalid(id: String, error: InputError) -> MessageBatchResultLine {
        MessageBatchResultLine(
            customID: id,
            result: .errored(error: errorResponse(type: "invalid_request_error", message: error.description))
        )
    }

    /// A line of `result` for `customID`.
    package init(customID: String, result: Result) {
        self.customID = customID
        self.result = result
    }

    package func appendJSON(to output: inout [UInt8], encoder: JSONEncoder) {
        var nested = JSONFieldWriter()
        switch result {
        case .succeeded(let message):
            nested.string("type", "succeeded")
            nested.raw("message", message)
        case .errored(let error):
            nested.string("type", "errored")
            nested.raw("error", error)
        case .canceled:
            nested.string("type", "canceled")
        case .expired:
            nested.string("type", "expired")
        }
        var fields = JSONFieldWriter()
        fields.string("custom_id", customID)
        fields.raw("result", nested.finish())
        if cached { fields.value("cached", .bool(true)) }
        output.append(contentsOf: fields.finish())
    }

    /// The error types Anthropic's error responses use.
    static let errorTypes: Set<String> = [
        "invalid_request_error", "authentication_error", "billing_error", "permission_error", "not_found_error",
        "rate_limit_error", "timeout_error", "api_error", "overloaded_error",
    ]

    /// Whether `body` is Anthropic's error response: `{"type": "error", "error": {"type",
    /// "message"}}` with one of ``errorTypes``.
    static func isErrorResponse(_ body: String) -> Bool {
        guard let value = try? JSONValue(parsing: body), value["type"] == .string("error"),
            case .string(let type)? = value["error"]?["type"], errorTypes.contains(type),
            case .string? = value["error"]?["message"]
        else { return false }
        return true
    }

    /// `{"type": "error", "error": {"type": TYPE, "message": MESSAGE}}` as JSON text.
    static func errorResponse(type: String, message: String) -> String {
        var error = JSONFieldWriter()
        error.string("type", type)
        error.string("message", message)
        var fields = JSONFieldWriter()
        fields.string("type", "error")
        fields.raw("error", error.finish())
        return String(decoding: fields.finish(), as: UTF8.self)
    }

    /// The Anthropic error type for a failure without Anthropic's own error body.
    static func errorType(of failure: ItemError) -> String {
        switch failure.status {
        case 400?, 413?, 422?: return "invalid_request_error"
        case 401?: return "authentication_error"
        case 402?: return "billing_error"
        case 403?: return "permission_error"
        case 404?: return "not_found_error"
        case 429?: return "rate_limit_error"
        case 504?: return "timeout_error"
        case 529?: return "overloaded_error"
        default: break
        }
        switch failure.kind {
        case .timeout: return "timeout_error"
        case .invalidInput: return "invalid_request_error"
        default: return "api_error"
        }
    }
}
