import PacerHTTP
import PacerJSON
import PacerOpenAI

/// What a streamed chat request asks for beyond a plain one: `stream` and
/// `stream_options.include_usage` (decoded here, so that the shared request type need not
/// carry them).
struct ChatStreamRequest: Decodable, Sendable, Hashable {
    /// `stream`: answer with Server-Sent Events.
    var stream: Bool
    /// `stream_options.include_usage`: end with a chunk that carries the usage.
    var includeUsage: Bool

    private struct Options: Decodable {
        var includeUsage: Bool?

        enum CodingKeys: String, CodingKey {
            case includeUsage = "include_usage"
        }
    }

    enum CodingKeys: String, CodingKey {
        case stream
        case streamOptions = "stream_options"
    }

    init(stream: Bool, includeUsage: Bool = false) {
        self.stream = stream
        self.includeUsage = includeUsage
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        stream = (try? container.decodeIfPresent(Bool.self, forKey: .stream)) ?? false
        let options = try? container.decodeIfPresent(Options.self, forKey: .streamOptions)
        includeUsage = options?.includeUsage ?? false
    }
}

/// The Server-Sent Events of one streamed chat answer, as a pure value: built from the
/// answer a plain request gets, then written (and paced) by the simulator.
///
/// OpenAI's shape: a first chunk whose delta is `{"role":"assistant","content":"","refusal":null}`,
/// then one chunk per token (`{"content":" word"}`), a chunk with an empty delta and the
/// `finish_reason`, with `include_usage` a chunk with `"choices":[]` and the usage (every
/// chunk before it has `"usage":null`), and `data: [DONE]`. Every event ends with a blank
/// line. With llama.cpp's quirks: the first delta is `{"role":"assistant","content":null}`,
/// lines end with CRLF, `: ping` comments come before the first chunk and every
/// ``pingEvery`` chunks, and there is never a usage chunk.
struct ChatStreamScript: Sendable, Hashable {
    /// One piece of the stream.
    enum Frame: Sendable, Hashable {
        /// A `data:` event that carries no token (the role chunk, the finish chunk, the usage).
        case chunk(JSONValue)
        /// A `data:` event that carries one token (text, refusal or tool-call arguments): a
        /// paced stream waits one token time before it.
        case token(JSONValue)
        /// A `: ping` comment line.
        case ping
    }

    /// The frames up to (not including) `data: [DONE]`.
    var frames: [Frame]
    /// Where the faults that strike halfway strike: before `frames[midpoint]`, once half the
    /// tokens are out.
    var midpoint: Int
    /// The frame that carries the `finish_reason`: once it is out, the answer is whole, and a
    /// cut no longer applies.
    var finishIndex: Int
    /// `\n`, or `\r\n` with llama.cpp's quirks.
    var lineEnding: String

    /// With llama.cpp's quirks, a `: ping` comes before every this many chunks.
    static let pingEvery = 4

    /// The message of the error event a `malformed` fault sends mid-stream, as OpenAI's.
    static let errorMessage = "The server had an error while processing your request."

    /// The script of `completion` streamed.
    ///
    /// - Parameters:
    ///   - completion: The answer a plain request gets (its first choice is streamed).
    ///   - includeUsage: Whether the request asked for `stream_options.include_usage`.
    ///   - replacement: A refusal or tool call (``Simulator/message(for:)``) that replaces the
    ///     message, if a fault says so.
    ///   - llamaQuirks: Stream as llama.cpp does.
    init(
        completion: ChatCompletionResponse,
        includeUsage: Bool,
        replacement: (message: JSONValue, finishReason: String)? = nil,
        llamaQuirks: Bool
    ) {
        let withUsage = includeUsage && !llamaQuirks
        lineEnding = llamaQuirks ? "\r\n" : "\n"
        func chunk(_ delta: [String: JSONValue], finishReason: String? = nil) -> JSONValue {
            var fields: [String: JSONValue] = [
                "id": .string(completion.id),
                "object": .string("chat.completion.chunk"),
                "created": .number(JSONNumber(completion.created)),
                "model": .string(completion.model),
                "choices": .array([
                    .object([
                        "index": .number(0),
                        "delta": .object(delta),
                        "logprobs": .null,
                        "finish_reason": finishReason.map(JSONValue.string) ?? .null,
                    ])
                ]),
            ]
            if withUsage { fields["usage"] = .null }
            return .object(fields)
        }

        let choice = completion.choices.first
        let first: [String: JSONValue]
        let tokens: [[String: JSONValue]]
        let finishReason: String
        if let replacement, let refusal = replacement.message["refusal"], case .string(let text) = refusal {
            first = ["role": .string("assistant"), "content": .null, "refusal": .string("")]
            tokens = Self.pieces(of: text).map { ["refusal": .string($0)] }
            finishReason = replacement.finishReason
        } else if let replacement, case .array(let calls)? = replacement.message["tool_calls"],
            case .object(var call)? = calls.first
        {
            // The call's index, id and name first, its arguments in pieces after.
            var function = call["function"]?.objectValue ?? [:]
            let arguments = function["arguments"]?.stringValue ?? ""
            function["arguments"] = .string("")
            call["function"] = .object(function)
            call["index"] = .number(0)
            first = ["role": .string("assistant"), "content": .null, "tool_calls": .array([.object(call)])]
            tokens = Self.argumentPieces(of: arguments).map {
                [
                    "tool_calls": .array([
                        .object(["index": .number(0), "function": .object(["arguments": .string($0)])])
                    ])
                ]
            }
            finishReason = replacement.finishReason
        } else {
            first =
                llamaQuirks
                ? ["role": .string("assistant"), "content": .null]
                : ["role": .string("assistant"), "content": .string(""), "refusal": .null]
            tokens = Self.pieces(of: choice?.message.content ?? "").map { ["content": .string($0)] }
            finishReason = choice?.finishReason ?? "stop"
        }

        var events: [Frame] = [.chunk(chunk(first))] + tokens.map { .token(chunk($0)) }
        events.append(.chunk(chunk([:], finishReason: finishReason)))
        if withUsage, let usage = completion.usage {
            var last = chunk([:]).objectValue ?? [:]
            last["choices"] = .array([])
            last["usage"] = .object([
                "prompt_tokens": .number(JSONNumber(usage.promptTokens)),
                "completion_tokens": .number(JSONNumber(usage.completionTokens)),
                "total_tokens": .number(JSONNumber(usage.totalTokens)),
            ])
            events.append(.chunk(.object(last)))
        }
        // The token frame after half the tokens (events[0] is the role chunk), and the finish
        // chunk after the last token.
        let halfway = 1 + tokens.count / 2
        let finish = 1 + tokens.count
        guard llamaQuirks else {
            frames = events
            midpoint = halfway
            finishIndex = finish
            return
        }
        frames = []
        midpoint = 0
        finishIndex = 0
        for (index, event) in events.enumerated() {
            if index % Self.pingEvery == 0 { frames.append(.ping) }
            if index == halfway { midpoint = frames.count }
            if index == finish { finishIndex = frames.count }
            frames.append(event)
        }
    }

    /// The tokens of a text: its words, each after the first with its leading space, so that
    /// they add up to the text exactly (the simulator's answers are words, one token each).
    static func pieces(of text: String) -> [String] {
        guard !text.isEmpty else { return [] }
        return text.split(separator: " ", omittingEmptySubsequences: false).enumerated().map {
            $0.offset == 0 ? String($0.element) : " " + $0.element
        }
    }

    /// Tool-call arguments in pieces, as a model emits them: runs of letters and digits apart
    /// from runs of punctuation (`{"`, `query`, `":"`, `pacing`, `"}`).
    static func argumentPieces(of arguments: String) -> [String] {
        var pieces: [String] = []
        var current = ""
        var currentIsWord: Bool?
        for character in arguments {
            let isWord = character.isLetter || character.isNumber
            if let currentIsWord, currentIsWord != isWord {
                pieces.append(current)
                current = ""
            }
            current.append(character)
            currentIsWord = isWord
        }
        if !current.isEmpty { pieces.append(current) }
        return pieces
    }

    /// The bytes of one frame.
    func text(of frame: Frame) -> String {
        switch frame {
        case .chunk(let json), .token(let json): event(json.jsonText)
        case .ping: ": ping" + lineEnding + lineEnding
        }
    }

    /// `data: [DONE]`, the end of a stream.
    var done: String { event("[DONE]") }

    /// The error event a `malformed` fault sends mid-stream, in OpenAI's shape.
    var errorEvent: String {
        let error = JSONValue.object([
            "error": .object([
                "message": .string(Self.errorMessage),
                "type": .string("server_error"),
                "param": .null,
                "code": .null,
            ])
        ])
        return event(error.jsonText)
    }

    /// A `data:` event: the line and the blank line that ends it.
    private func event(_ data: String) -> String {
        "data: " + data + lineEnding + lineEnding
    }
}

extension JSONValue {
    /// The members, when this is an object.
    fileprivate var objectValue: [String: JSONValue]? {
        if case .object(let object) = self { return object }
        return nil
    }

    /// The text, when this is a string.
    fileprivate var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }
}
