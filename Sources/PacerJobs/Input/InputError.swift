/// An input that cannot be used, with the file and line to fix.
///
/// Its description is one line: `prompts.jsonl:17: expected a JSON object with "prompt" or "messages"`.
public struct InputError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The input's path, or `<stdin>`.
    public var file: String
    /// The 1-based line, when the problem is on one line.
    public var line: Int?
    /// What is wrong and, where it helps, what to write instead.
    public var message: String
    /// The id of the line's item, when the line names one although it cannot be used (an
    /// OpenAI Batch API line's `custom_id`): `--skip-invalid` writes its failure under it.
    public var itemID: String?

    /// Creates an input error.
    public init(file: String, line: Int? = nil, message: String, itemID: String? = nil) {
        self.file = file
        self.line = line
        self.message = message
        self.itemID = itemID
    }

    /// A one-line description for people.
    public var description: String {
        if let line { return "\(file):\(line): \(message)" }
        return "\(file): \(message)"
    }
}
