import PacerCore
import Synchronization

/// The items of an input file or stdin, parsed lazily line by line.
///
/// A source is read once. ``count()`` reads a file through a separate handle, so a file can be
/// checked whole (and counted) before the first request.
struct ItemSource<Input: Sendable>: AsyncSequence, Sendable {
    let path: String
    let format: InputFormat
    let parser: ItemParser<Input>
    /// Ids to leave out (done in an earlier run); each one left out is counted in `skipped`.
    let skip: @Sendable (String) -> Bool
    let skipped = Tally()
    /// When set, a line that does not parse is handed here (with its line number as id) and
    /// reading goes on, instead of ending the input with the error (`--skip-invalid`).
    let onInvalid: (@Sendable (_ id: String, _ error: InputError) -> Void)?
    private let reader: FileReader

    /// Opens the input; `-` is stdin.
    init(
        path: String,
        format: InputFormat,
        parser: ItemParser<Input>,
        skip: @escaping @Sendable (String) -> Bool = { _ in false },
        onInvalid: (@Sendable (_ id: String, _ error: InputError) -> Void)? = nil
    ) throws(InputError) {
        self.path = path
        self.format = format
        self.parser = parser
        self.skip = skip
        self.onInvalid = onInvalid
        self.reader = try FileReader(path: path)
    }

    /// Reads a file input through once, checking every line.
    ///
    /// - Throws: The first ``InputError``, or one saying the file has no items.
    /// - Returns: The items in the file, and how many of them `skip` leaves out.
    func count() async throws -> (items: Int, skipped: Int) {
        let invalid = Tally()
        var countInvalid: (@Sendable (String, InputError) -> Void)?
        if onInvalid != nil {
            countInvalid = { _, _ in invalid.add() }
        }
        let check = try ItemSource(path: path, format: format, parser: parser, skip: skip, onInvalid: countInvalid)
        var count = 0
        for try await _ in check { count += 1 }
        let items = count + check.skipped.count + invalid.count
        guard items > 0 else { throw InputError(file: reader.name, message: "contains no items (empty or blank lines only)") }
        return (items, check.skipped.count)
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        var lines: Lines.AsyncIterator
        let file: String
        var format: InputFormat
        let parser: ItemParser<Input>
        let skip: @Sendable (String) -> Bool
        let skipped: Tally
        let onInvalid: (@Sendable (String, InputError) -> Void)?
        var index = 0
        /// The line of every id seen, to reject duplicates.
        var seen: [String: Int] = [:]

        mutating func next() async throws -> BatchItem<Input>? {
            while let line = try await lines.next() {
                if let item = try item(from: line) {
                    if skip(item.id) {
                        skipped.add()
                        continue
                    }
                    return item
                }
            }
            return nil
        }

        /// The item on `line`, or `nil` for a blank line. Kept synchronous and apart from
        /// `next()`: Swift 6.3's optimizer crashed splitting `next()` when this was inline.
        private mutating func item(from line: Line) throws -> BatchItem<Input>? {
            if format == .auto, !line.text.allSatisfy(\.isWhitespace) {
                format = ItemParser<Input>.detect(line.text)
            }
            let parsed: (id: String, input: Input)?
            do {
                parsed = try parser.parse(line, format: format, file: file)
            } catch {
                guard let onInvalid else { throw error }
                let id = String(line.number)
                if !skip(id) { onInvalid(id, error) }
                return nil
            }
            guard let parsed else { return nil }
            if let first = seen.updateValue(line.number, forKey: parsed.id) {
                throw InputError(file: file, line: line.number, message: "duplicate id '\(parsed.id)' (also on line \(first)); ids must be unique")
            }
            index += 1
            return BatchItem(index: index - 1, id: parsed.id, input: parsed.input)
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(
            lines: Lines(reader: reader).makeAsyncIterator(),
            file: reader.name,
            format: format,
            parser: parser,
            skip: skip,
            skipped: skipped,
            onInvalid: onInvalid
        )
    }
}

/// A thread-safe count.
final class Tally: Sendable {
    private let value = Mutex(0)
    func add(_ count: Int = 1) { value.withLock { $0 += count } }
    var count: Int { value.withLock { $0 } }
}
