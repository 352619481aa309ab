import PacerHTTP
import PacerJSON
import PacerOpenAI

extension ItemParser where Input == EmbeddingInput {
    /// Texts to embed: a text per line; JSONL with `text` (or `input`), optional `id`. A text
    /// keeps its line exactly (only a JSONL string can hold leading or trailing spaces).
    package static let embeddings = ItemParser(
        parseText: { text throws in EmbeddingInput(id: "", text: text) },
        parseJSON: { object throws in
            guard case .string(let text)? = object["text"] ?? object["input"] else {
                throw LineProblem(message: #"expected a JSON object with "text" (a string)"#)
            }
            guard !text.isEmpty else { throw LineProblem(message: #""text" is empty; the API refuses empty inputs"#) }
            let id = try itemID(object)
            return (id, EmbeddingInput(id: id ?? "", text: text))
        }
    )
}
