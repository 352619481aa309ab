import PacerJSON
import PacerOpenAI

extension ItemParser where Input == APIRequest {
    /// Anthropic Message Batch lines: `{"custom_id", "params": {…}}`, where `params` is a
    /// Messages API request body (`model`, `max_tokens`, `messages`, …), sent as it is to
    /// `/v1/messages`, one request per line.
    package static let messageBatch = ItemParser(
        parseText: { _ throws in
            throw LineProblem(message: #"expected an Anthropic Message Batch line: {"custom_id", "params"}"#)
        },
        parseJSON: { line throws in
            guard line["custom_id"] != nil, line["params"] != nil else {
                let hint =
                    line["url"] != nil && line["body"] != nil
                    ? "; this is an OpenAI Batch API line (run the file with --provider openai)" : ""
                throw LineProblem(
                    message: #"expected an Anthropic Message Batch line with "custom_id" and "params""# + hint
                )
            }
            let id = try itemID(["custom_id": line["custom_id"] ?? .null])
            func problem(_ message: String) -> LineProblem { LineProblem(message: message, itemID: id) }
            guard case .object? = line["params"], let params = line["params"] else {
                throw problem(#""params" must be a JSON object, not \#(line["params"]?.excerpt ?? "missing")"#)
            }
            guard case .string? = params["model"] else {
                throw problem(#""params" needs a "model" string"#)
            }
            // The API requires it; without it every request would be refused after being paced.
            guard case .number(let maxTokens)? = params["max_tokens"], let tokens = maxTokens.int, tokens > 0 else {
                throw problem(#""params" needs "max_tokens", a positive integer"#)
            }
            guard case .array? = params["messages"] else {
                throw problem(#""params" needs a "messages" array"#)
            }
            // Results are kept whole, as a Message Batch's are.
            if params["stream"] == .bool(true) {
                throw problem(
                    #""stream": true is not supported in a Message Batch line (answers are kept whole); remove it"#
                )
            }
            return (id, APIRequest(endpoint: .messages, body: params))
        }
    )

    /// Whether the first line of an input names a Message Batch request (`custom_id` and
    /// `params`) rather than an OpenAI Batch API one; `nil` when it is neither or no JSON.
    package static func isMessageBatch(firstLine: String) -> Bool? {
        guard case .object(let object)? = try? JSONValue(parsing: firstLine) else { return nil }
        if object["params"] != nil, object["url"] == nil { return true }
        if object["url"] != nil || object["body"] != nil { return false }
        return nil
    }
}

extension ItemSource {
    /// Whether the file at `path` holds Anthropic Message Batch lines, by its first non-blank
    /// line: `true` for `{"custom_id", "params"}`, `false` for an OpenAI Batch API line or
    /// anything else (which the OpenAI parser then names on its line).
    ///
    /// - Throws: ``InputError`` when the file cannot be read.
    package static func holdsMessageBatch(path: String) async throws -> Bool {
        var lines = Lines(reader: try FileReader(path: path)).makeAsyncIterator()
        while let line = try await lines.next() {
            guard !line.text.allSatisfy(\.isWhitespace) else { continue }
            return ItemParser<APIRequest>.isMessageBatch(firstLine: line.text) ?? false
        }
        return false
    }
}
