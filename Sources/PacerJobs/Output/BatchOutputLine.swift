import PacerCore
import PacerOpenAI

/// Which lines `--output` gets.
package enum OutputFormat: String, CaseIterable, Sendable {
    /// Pacer's JSONL (the README's "Formats"): one flat object per item.
    case pacer
    /// OpenAI Batch API output lines, so a file meant for the Batch API can be run live and
    /// read back by the same code.
    case batch
}

/// One line of OpenAI Batch API output:
/// `{"id", "custom_id", "response": {"status_code", "request_id", "body"}, "error"}`.
///
/// A success is a `response` with status 200 and the completion, and `error: null`. Every
/// failure has a non-null `error` (`code` is Pacer's `error.kind`), since a Batch API reader
/// takes `error: null` with a 2xx status for a success; an HTTP error also keeps its
/// `response` (its status and OpenAI's error body). A failure whose answer was a 2xx (a body
/// that did not decode) has no `response`: that 2xx is not a result.
package struct BatchOutputLine: Encodable, OutputRecord {
    package struct Response: Encodable {
        package var statusCode: Int
        package var requestID: String?
        package var body: Body

        package enum CodingKeys: String, CodingKey {
            case statusCode = "status_code"
            case requestID = "request_id"
            case body
        }

        package func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(statusCode, forKey: .statusCode)
            try container.encode(requestID, forKey: .requestID)
            try container.encode(body, forKey: .body)
        }
    }

    package enum Body: Encodable {
        case completion(ChatCompletionResponse)
        case error(OpenAIErrorBody)

        package func encode(to encoder: any Encoder) throws {
            switch self {
            case .completion(let completion): try completion.encode(to: encoder)
            case .error(let error): try error.encode(to: encoder)
            }
        }
    }

    package struct Failure: Encodable {
        package var code: String
        package var message: String
    }

    package var id: String
    package var customID: String
    package var response: Response?
    package var error: Failure?
    /// The answer came from the response cache (`--cache`): written as `"cached": true`, as
    /// `pacer batch`'s lines are.
    package var cached = false

    package enum CodingKeys: String, CodingKey {
        case id, response, error, cached
        case customID = "custom_id"
    }

    /// The Batch API line for a chat item.
    package init(_ result: ItemResult<ChatResult>) {
        id = "batch_req_\(result.id)"
        customID = result.id
        switch result.outcome {
        case .success(let output):
            let completion =
                output.completion
                ?? ChatCompletionResponse(
                    id: "chatcmpl-\(result.id)",
                    created: 0,
                    model: output.model,
                    choices: [
                        .init(
                            index: 0,
                            message: .init(
                                content: output.response,
                                refusal: output.refusal,
                                toolCalls: output.toolCalls
                            ),
                            finishReason: nil
                        )
                    ],
                    usage: .init(
                        promptTokens: output.usage.prompt,
                        completionTokens: output.usage.completion,
                        totalTokens: output.usage.total
                    )
                )
            response = Response(statusCode: 200, requestID: output.requestID, body: .completion(completion))
            cached = output.isCached
        case .failure(let failure):
            if let status = failure.status, !(200...299).contains(status) {
                let body = OpenAIErrorBody(
                    error: .init(message: failure.message, type: failure.kind.rawValue, code: nil)
                )
                response = Response(statusCode: status, requestID: nil, body: .error(body))
            }
            error = Failure(code: failure.kind.rawValue, message: failure.message)
        }
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(customID, forKey: .customID)
        try container.encode(response, forKey: .response)
        try container.encode(error, forKey: .error)
        if cached { try container.encode(true, forKey: .cached) }
    }
}
