import PacerCore

/// The items of an input file or stdin, parsed lazily line by line.
///
/// A source is read once. ``count()`` reads a file through a separate handle, so a file can be
/// checked whole (and counted) before the first request.
struct ItemSource<Input: Sendable>: AsyncSequence, Sendable {
    let path: String
    let format: InputFormat
    let parser: ItemParser<Input>
    private let reader: FileReader

    /// Opens the input; `-` is stdin.
    init(path: String, format: InputFormat, parser: ItemParser<Input>) throws(InputError) {
        self.path = path
        self.format = format
        self.parser = parser
        self.reader = try FileReader(path: path)
    }

    /// Reads a file input through once, checking every line; returns the number of items.
    ///
    /// - Throws: The first ``InputError``, or one saying the file has no items.
    func count() async throws -> Int {
        let check = try ItemSource(path: path, format: format, parser: parser)
        var count = 0
        for try await _ in check { count += 1 }
        guard count > 0 else { throw InputError(file: reader.name, message: "contains no items (empty or blank lines only)") }
        return count
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        var lines: Lines.AsyncIterator
        let file: String
        var format: InputFormat
        let parser: ItemParser<Input>
        var index = 0

        mutating func next() async throws -> BatchItem<Input>? {
            while let line = try await lines.next() {
                if let item = try item(from: line) { return item }
            }
            return nil
        }

        /// The item on `line`, or `nil` for a blank line. Kept synchronous and apart from
        /// `next()`: Swift 6.3's optimizer crashed splitting `next()` when this was inline.
        private mutating func item(from line: Line) throws -> BatchItem<Input>? {
            if format == .auto, !line.text.allSatisfy(\.isWhitespace) {
                format = ItemParser<Input>.detect(line.text)
            }
            guard let parsed = try parser.parse(line, format: format, file: file) else { return nil }
            index += 1
            return BatchItem(index: index - 1, id: parsed.id, input: parsed.input)
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(lines: Lines(reader: reader).makeAsyncIterator(), file: reader.name, format: format, parser: parser)
    }
}
