import Foundation
import PacerCore
import PacerHTTP
import PacerJSON
import PacerOpenAI

/// How input lines are read.
package enum InputFormat: String, Sendable, CaseIterable {
    /// Decide from the first non-blank line: `{` means JSONL, anything else text.
    case auto
    /// One prompt (chat) or URL (fetch) per line.
    case text
    /// One JSON object per line.
    case jsonl
    /// OpenAI Batch API input lines: `custom_id`, `method`, `url`, `body` (chat only).
    case batch
}

/// What is wrong with one input line (the caller adds the file and line number).
package struct LineProblem: Error {
    package var message: String
    /// The id the line gives its item, if it is known.
    package var itemID: String?
}

/// Turns input lines into batch items; pure, so it is tested with tables.
package struct ItemParser<Input: Sendable>: Sendable {
    /// Parses one non-blank line of each format; `nil` id means "use the line number".
    package let parseText: @Sendable (String) throws -> Input
    package let parseJSON: @Sendable ([String: JSONValue]) throws -> (id: String?, input: Input)

    /// Parses a line in a known format; `nil` for a blank line.
    package func parse(
        _ line: Line,
        format: InputFormat,
        file: String
    ) throws(InputError) -> (id: String, input: Input)? {
        let trimmed = Self.trimmed(line.text)
        guard !trimmed.isEmpty else { return nil }
        do {
            switch format {
            case .text, .auto:
                return (String(line.number), try parseText(trimmed))
            case .jsonl, .batch:
                guard let value = try? JSONValue(parsing: trimmed) else {
                    throw LineProblem(message: "invalid JSON")
                }
                guard case .object(let object) = value else {
                    throw LineProblem(message: "expected a JSON object, found \(value.typeName)")
                }
                if format == .batch, object["custom_id"] == nil || object["body"] == nil {
                    throw LineProblem(
                        message: #"expected an OpenAI Batch API line with "custom_id", "method", "url" and "body""#
                    )
                }
                let parsed = try parseJSON(object)
                return (parsed.id ?? String(line.number), parsed.input)
            }
        } catch let problem as LineProblem {
            throw InputError(file: file, line: line.number, message: problem.message, itemID: problem.itemID)
        } catch {
            throw InputError(file: file, line: line.number, message: String(describing: error))
        }
    }

    /// `text` without leading and trailing whitespace. Most lines have none, and Foundation's
    /// trimming costs more than parsing a short JSON line, so those are returned as they are.
    package static func trimmed(_ text: String) -> String {
        func plain(_ byte: UInt8?) -> Bool {
            guard let byte else { return false }
            return byte > 0x20 && byte < 0x80
        }
        if plain(text.utf8.first), plain(text.utf8.last) { return text }
        return text.trimmingCharacters(in: .whitespaces)
    }

    /// The format of a file whose first non-blank line is `line`.
    package static func detect(_ line: String) -> InputFormat {
        line.trimmingCharacters(in: .whitespaces).hasPrefix("{") ? .jsonl : .text
    }
}

extension ItemParser where Input == ChatPrompt {
    /// Chat lines: a prompt per text line; JSONL with `prompt` or `messages`, optional `id`,
    /// `model`, `max_tokens`, `temperature`.
    package static let chat = ItemParser(
        parseText: { text throws in ChatPrompt(text) },
        parseJSON: { line throws in
            var object = line
            if case .object(let body)? = line["body"], line["custom_id"] != nil {
                // An OpenAI Batch API input line: the request is its body.
                guard case .string(let method)? = line["method"], method.uppercased() == "POST" else {
                    throw LineProblem(message: #"Batch API "method" must be "POST""#)
                }
                guard case .string(let url)? = line["url"], url == "/v1/chat/completions" || url == "/chat/completions"
                else {
                    throw LineProblem(
                        message: #"unsupported Batch API "url" (pacer chat runs "/v1/chat/completions" lines)"#
                    )
                }
                object = body
                object["custom_id"] = line["custom_id"]
            }
            let messages: [ChatMessage]
            if case .string(let prompt)? = object["prompt"] {
                messages = [.user(prompt)]
            } else if case .array(let list)? = object["messages"] {
                messages = try list.enumerated().map { (offset, element) throws in
                    guard case .string(let role)? = element["role"], case .string(let content)? = element["content"]
                    else {
                        throw LineProblem(message: "messages[\(offset)] needs string \"role\" and \"content\"")
                    }
                    return ChatMessage(role: role, content: content)
                }
                if messages.isEmpty { throw LineProblem(message: "\"messages\" is empty") }
            } else {
                throw LineProblem(message: #"expected a JSON object with "prompt" (a string) or "messages" (an array)"#)
            }
            var prompt = ChatPrompt(messages: messages)
            if let model = object["model"] {
                guard case .string(let name) = model else { throw LineProblem(message: "\"model\" must be a string") }
                prompt.model = name
            }
            if let maxTokens = object["max_tokens"] {
                guard case .number(let number) = maxTokens, let value = number.int, value >= 1 else {
                    throw LineProblem(message: "\"max_tokens\" must be a positive integer, not \(maxTokens.excerpt)")
                }
                prompt.maxTokens = value
            }
            if let temperature = object["temperature"] {
                guard case .number(let number) = temperature, let value = number.double else {
                    throw LineProblem(message: "\"temperature\" must be a number, not \(temperature.excerpt)")
                }
                prompt.temperature = value
            }
            return (try itemID(object), prompt)
        }
    )
}

extension ItemParser where Input == FetchRequest {
    /// Fetch lines: a URL per text line; JSONL with `url`, optional `id` and `headers`.
    package static let fetch = ItemParser(
        parseText: { text throws in FetchRequest(url: try checkedURL(text)) },
        parseJSON: { object throws in
            guard case .string(let url)? = object["url"] else {
                throw LineProblem(message: #"expected a JSON object with "url" (a string)"#)
            }
            var headers: [String: String] = [:]
            if let raw = object["headers"] {
                guard case .object(let fields) = raw else {
                    throw LineProblem(message: "\"headers\" must be an object of strings")
                }
                for (name, value) in fields {
                    guard case .string(let text) = value else {
                        throw LineProblem(message: "header \"\(name)\" must be a string")
                    }
                    headers[name] = text
                }
            }
            return (try itemID(object), FetchRequest(url: try checkedURL(url), headers: headers))
        }
    )

    package static func checkedURL(_ text: String) throws -> String {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            url.host?.isEmpty == false
        else {
            throw LineProblem(message: "not an http(s) URL: \(text.prefix(200))")
        }
        return text
    }
}

/// The `id` of a JSONL line: a string or an integer; `nil` when absent.
///
/// An integer written in digits is its own text, however long (`1512345678901234567` stays
/// that id, and never collides with a neighbour the way two `Double`s above 2^53 would); one
/// written with a fraction or exponent (`7.0`, `7e0`) is the integer's digits when an `Int`
/// holds it exactly. Anything else (`1.5`, `1e19`) is an error, not a rounded id.
package func itemID(_ object: [String: JSONValue]) throws -> String? {
    switch object["id"] ?? object["custom_id"] {
    case nil, .null?: return nil
    case .string(let id)?:
        guard !id.isEmpty else { throw LineProblem(message: "\"id\" is empty") }
        return id
    case .number(let number)?:
        if number.isIntegerLiteral { return number.text == "-0" ? "0" : number.text }
        if let value = number.int { return String(value) }
        throw LineProblem(
            message:
                "\"id\" \(number.text.prefix(40)) is not an integer Pacer can keep exactly; write the id in digits or as a string"
        )
    default: throw LineProblem(message: "\"id\" must be a string or an integer")
    }
}

extension JSONValue {
    /// The value's JSON text, cut to 40 characters, for messages.
    package var excerpt: String {
        let text = jsonText
        return text.count > 40 ? text.prefix(40) + "…" : text
    }

}
