import Foundation
import PacerCore
import PacerHTTP
import PacerJSON
import PacerOpenAI

/// One line of the JSONL output, with the fields the README's "Formats" lists (written with sorted keys).
package struct OutputLine: OutputRecord {
    package struct Tokens {
        package var prompt: Int
        package var completion: Int
        package var total: Int
        /// Pacer's estimate, not the server's count (a stream that reported no usage).
        package var estimated = false
    }

    package struct Failure {
        package var kind: String
        package var status: Int?
        package var message: String
    }

    package var id: String
    /// The item's 0-based position among the input's items; absent for a line that could not
    /// be parsed (`--skip-invalid`), which is no item.
    package var index: Int?
    package var success: Bool
    package var prompt: String?
    package var url: String?
    /// A chat answer's text, or `null` when the model gave none (a refusal, tool calls).
    package var response: JSONValue?
    /// Why the model declined, when it did.
    package var refusal: String?
    /// The tools the model asked to call, as the server sent them.
    package var toolCalls: JSONValue?
    package var status: Int?
    package var data: JSONValue?
    package var tokens: Tokens?
    package var model: String?
    package var costUSD: Double?
    package var error: Failure?
    package var attempts: Int
    package var latencyMs: Int
    /// A streamed answer's time to first token.
    package var ttftMs: Int?
    /// The answer came from the response cache (`--cache`), without a request.
    package var cached = false

    /// Writes the line as a JSON object with its keys in sorted order, leaving out absent
    /// fields, straight into `output` (one line per item: no dictionary, no sorting).
    package func appendJSON(to output: inout [UInt8], encoder: JSONEncoder) {
        var fields = JSONFieldWriter()
        fields.number("attempts", attempts)
        if cached { fields.value("cached", .bool(true)) }
        if let costUSD { fields.number("cost_usd", costUSD) }
        if let data { fields.value("data", data) }
        if let error {
            var nested = JSONFieldWriter()
            nested.string("kind", error.kind)
            nested.string("message", error.message)
            if let status = error.status { nested.number("status", status) }
            fields.raw("error", nested.finish())
        }
        fields.string("id", id)
        if let index { fields.number("index", index) }
        fields.number("latency_ms", latencyMs)
        if let model { fields.string("model", model) }
        if let prompt { fields.string("prompt", prompt) }
        if let refusal { fields.string("refusal", refusal) }
        if let response { fields.value("response", response) }
        if let status { fields.number("status", status) }
        fields.value("success", .bool(success))
        if let tokens {
            var nested = JSONFieldWriter()
            nested.number("completion", tokens.completion)
            if tokens.estimated { nested.value("estimated", .bool(true)) }
            nested.number("prompt", tokens.prompt)
            nested.number("total", tokens.total)
            fields.raw("tokens", nested.finish())
        }
        if let toolCalls { fields.value("tool_calls", toolCalls) }
        if let ttftMs { fields.number("ttft_ms", ttftMs) }
        if let url { fields.string("url", url) }
        output.append(contentsOf: fields.finish())
    }

    package init<Output>(_ result: ItemResult<Output>) {
        self.id = result.id
        self.index = result.index
        self.success = result.isSuccess
        self.attempts = result.attempts
        self.latencyMs = Int((result.latency.pacerSeconds * 1000).rounded())
        if let error = result.error {
            self.error = Failure(kind: error.kind.rawValue, status: error.status, message: error.message)
        }
    }

    /// The line of an input line that could not be parsed (`--skip-invalid`).
    package static func invalid(id: String, error: InputError) -> OutputLine {
        let failed = ItemResult<FetchResult>(
            index: 0,
            id: id,
            outcome: .failure(ItemError(kind: .invalidInput, message: error.description, isRetryable: false)),
            attempts: 0,
            attemptErrors: [],
            latency: .zero
        )
        var line = OutputLine(failed)
        line.index = nil
        return line
    }

    /// A chat item's line; a failure keeps the prompt so that it can be found again. A
    /// success always has `response` (`null` when the model gave no text), and `refusal` and
    /// `tool_calls` when the model refused or called tools.
    package static func chat(_ result: ItemResult<ChatResult>, prompt: String) -> OutputLine {
        var line = OutputLine(result)
        line.prompt = prompt
        if let output = result.output {
            line.response = output.response.map(JSONValue.string) ?? .null
            line.refusal = output.refusal
            line.toolCalls = output.toolCalls
            line.tokens = Tokens(
                prompt: output.usage.prompt,
                completion: output.usage.completion,
                total: output.usage.total,
                estimated: output.usageIsEstimated
            )
            line.ttftMs = output.streamTiming.map { Int(($0.timeToFirstToken.pacerSeconds * 1000).rounded()) }
            line.model = output.model
            line.costUSD = output.costUSD
            line.cached = output.isCached
        }
        return line
    }

    /// A fetch item's line; a failure keeps the URL.
    package static func fetch(_ result: ItemResult<FetchResult>, url: String) -> OutputLine {
        var line = OutputLine(result)
        line.url = url
        if let output = result.output {
            line.status = output.status
            line.data = output.data
        }
        return line
    }
}
