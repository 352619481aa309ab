import Foundation
import PacerCore
import PacerHTTP
import PacerJSON
import PacerOpenAI

/// One line of an OpenAI Batch API output or error file, as OpenAI writes them, for any
/// endpoint: `{"id": "batch_req_…", "custom_id", "response": {"status_code", "request_id",
/// "body"}, "error"}`.
///
/// - A 2xx answer (output file): `response` with the server's body exactly as sent (on one
///   line), `error: null`.
/// - An HTTP error (errors file): `response` with the server's status and error body,
///   `error: null`, as OpenAI's error files have it.
/// - A failure without an HTTP answer (a timeout, a connection failure, a 2xx body that was
///   not the endpoint's answer, an invalid input line): `response: null`, `error: {"code",
///   "message"}`, with `code` one of Pacer's error kinds.
///
/// Keys are written in OpenAI's order. The journal tells the two apart as every Batch API
/// reader does: a success is a 2xx `status_code` with `error: null`.
package struct BatchAPILine: OutputRecord {
    /// The answer, when there was one.
    package struct Response {
        package var statusCode: Int
        package var requestID: String?
        /// JSON text.
        package var body: String
    }

    package var customID: String
    package var response: Response?
    package var error: (code: String, message: String)?
    /// The answer came from the response cache (`--cache`): written as `"cached": true`.
    package var cached = false

    /// Whether the line goes to the output file (a 2xx answer) rather than the errors file.
    package var isSuccess: Bool { error == nil && response.map { (200...299).contains($0.statusCode) } == true }

    /// The line for an item's result.
    package init(_ result: ItemResult<APIResponse>) {
        customID = result.id
        switch result.outcome {
        case .success(let answer):
            response = Response(statusCode: answer.status, requestID: answer.requestID, body: answer.body)
            cached = answer.isCached
        case .failure(let failure):
            if let status = failure.status, !(200...299).contains(status), let body = failure.responseBody {
                response = Response(statusCode: status, requestID: failure.requestID, body: body)
            } else {
                error = (failure.kind.rawValue, failure.message)
            }
        }
    }

    /// The line for an input line that could not be read (`--skip-invalid`).
    package static func invalid(id: String, error: InputError) -> BatchAPILine {
        BatchAPILine(customID: id, response: nil, error: (ItemError.Kind.invalidInput.rawValue, error.description))
    }

    /// The line for an item a batch ended without running (OpenAI's `batch_expired` and
    /// `batch_cancelled`): `response: null` and an error with `code` and `message`.
    package static func notRun(id: String, code: String, message: String) -> BatchAPILine {
        BatchAPILine(customID: id, response: nil, error: (code, message))
    }

    private init(customID: String, response: Response?, error: (code: String, message: String)?) {
        self.customID = customID
        self.response = response
        self.error = error
    }

    package func appendJSON(to output: inout [UInt8], encoder: JSONEncoder) {
        // Room for the answer at once: an embedding's is kilobytes, and growing by doubling
        // copied it four times more.
        let room = (response?.body.utf8.count ?? 0) + 2 * customID.utf8.count + 160
        var fields = JSONFieldWriter(capacity: room)
        fields.string("id", "batch_req_" + customID)
        fields.string("custom_id", customID)
        if let response {
            var nested = JSONFieldWriter(capacity: room)
            nested.number("status_code", response.statusCode)
            nested.value("request_id", response.requestID.map(JSONValue.string) ?? .null)
            nested.raw("body", response.body)
            fields.raw("response", nested.finish())
        } else {
            fields.value("response", .null)
        }
        if let error {
            var nested = JSONFieldWriter()
            nested.string("code", error.code)
            nested.string("message", error.message)
            fields.raw("error", nested.finish())
        } else {
            fields.value("error", .null)
        }
        if cached { fields.value("cached", .bool(true)) }
        output.append(contentsOf: fields.finish())
    }
}
