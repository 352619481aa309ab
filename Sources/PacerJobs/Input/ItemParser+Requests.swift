import PacerHTTP
import PacerJSON
import PacerOpenAI

extension ItemParser where Input == APIRequest {
    /// Prompts as `pacer chat` reads them (a prompt per line, or JSONL with `prompt` or
    /// `messages`, and optional `id`, `model`, `max_tokens`, `temperature`), each made the
    /// chat completion request `pacer chat` would send: for a queue that runs Batch API
    /// requests.
    package static func chatRequests(
        model: String,
        maxTokens: Int?,
        temperature: Double?,
        system: String?
    ) -> ItemParser<APIRequest> {
        let chat = ItemParser<ChatPrompt>.chat
        let request: @Sendable (ChatPrompt) throws -> APIRequest = { prompt in
            let body = ChatCompletionRequest(
                prompt: prompt,
                model: model,
                maxTokens: maxTokens,
                temperature: temperature,
                system: system
            )
            return APIRequest(
                endpoint: .chatCompletions,
                body: try JSONValue(parsing: String(decoding: body.jsonBytes, as: UTF8.self))
            )
        }
        return ItemParser(
            parseText: { text in try request(chat.parseText(text)) },
            parseJSON: { object in
                let (id, prompt) = try chat.parseJSON(object)
                return (id, try request(prompt))
            }
        )
    }

    /// Texts as `pacer embed` reads them (a text per line, or JSONL with `text` and optional
    /// `id`), each made one embeddings request: a queue's worker sends items one by one, so
    /// texts are not packed.
    package static func embeddingRequests(
        model: String,
        dimensions: Int?,
        encodingFormat: String?
    ) -> ItemParser<APIRequest> {
        let texts = ItemParser<EmbeddingInput>.embeddings
        let request: @Sendable (EmbeddingInput) -> APIRequest = { input in
            var body: [String: JSONValue] = ["model": .string(model), "input": .string(input.text)]
            if let dimensions { body["dimensions"] = .number(JSONNumber(dimensions)) }
            if let encodingFormat { body["encoding_format"] = .string(encodingFormat) }
            return APIRequest(endpoint: .embeddings, body: .object(body))
        }
        return ItemParser(
            parseText: { text in request(try texts.parseText(text)) },
            parseJSON: { object in
                let (id, input) = try texts.parseJSON(object)
                return (id, request(input))
            }
        )
    }
}
