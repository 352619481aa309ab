import PacerCore
import Synchronization

/// The items of an input file or stdin, parsed lazily line by line.
///
/// A source is read once. ``count()`` reads a file through a separate handle, so a file can be
/// checked whole (and counted) before the first request.
package struct ItemSource<Input: Sendable>: AsyncSequence, Sendable {
    package let path: String
    package let format: InputFormat
    package let parser: ItemParser<Input>
    /// Ids to leave out (done in an earlier run); each one left out is counted in `skipped`.
    package let skip: @Sendable (String) -> Bool
    package let skipped = Tally()
    /// When set, a line that does not parse is handed here (with its line number as id) and
    /// reading goes on, instead of ending the input with the error (`--skip-invalid`).
    package let onInvalid: (@Sendable (_ id: String, _ error: InputError) -> Void)?
    /// Whether reading checks ids for duplicates itself, keeping a fingerprint of every id
    /// (stdin, which cannot be read twice). A file is checked by ``count()`` instead, in memory
    /// that does not grow with it.
    package let checksDuplicates: Bool
    private let reader: FileReader

    /// Ends the input where it is (Ctrl-C): a read waiting on stdin returns, and no more
    /// items come.
    package func stopReading() {
        reader.stop()
    }

    /// Opens the input; `-` is stdin.
    package init(
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
        self.checksDuplicates = path == "-"
        self.reader = try FileReader(path: path)
    }

    /// Reads a file input through, checking every line and that ids are unique.
    ///
    /// Ids are checked in memory that does not grow with the file: a first pass puts them in a
    /// Bloom filter and notes those it may have seen before; a second pass, only if there are
    /// such ids, finds the lines of each and reports a real duplicate.
    ///
    /// - Throws: The first ``InputError``, or one saying the file has no items.
    /// - Returns: The items in the file, and how many of them `skip` leaves out.
    package func count() async throws -> (items: Int, skipped: Int) {
        let invalid = Tally()
        var countInvalid: (@Sendable (String, InputError) -> Void)?
        if onInvalid != nil {
            countInvalid = { _, _ in invalid.add() }
        }
        var filter = BloomFilter(bits: Int(reader.size / 2))
        var suspects: Set<String> = []
        let firstPass = try ItemSource(path: path, format: format, parser: parser, skip: skip, onInvalid: countInvalid)
        var first = firstPass.makeAsyncIterator()
        var count = 0
        while let item = try await first.next() {
            count += 1
            if filter.insert(item.id) { suspects.insert(item.id) }
        }
        if !suspects.isEmpty {
            var lines: [String: Int] = [:]
            var second = try ItemSource(path: path, format: format, parser: parser, onInvalid: { _, _ in })
                .makeAsyncIterator()
            while let item = try await second.next() {
                guard suspects.contains(item.id) else { continue }
                if let line = lines.updateValue(second.lineNumber, forKey: item.id) {
                    throw InputError(
                        file: reader.name,
                        line: second.lineNumber,
                        message: "duplicate id '\(item.id)' (also on line \(line)); ids must be unique"
                    )
                }
            }
        }
        let skipped = firstPass.skipped.count
        guard count + skipped + invalid.count > 0 else {
            throw InputError(file: reader.name, message: "contains no items (empty or blank lines only)")
        }
        return (count + skipped + invalid.count, skipped)
    }

    package struct AsyncIterator: AsyncIteratorProtocol {
        package var lines: Lines.AsyncIterator
        package let file: String
        package var format: InputFormat
        package let parser: ItemParser<Input>
        package let skip: @Sendable (String) -> Bool
        package let skipped: Tally
        package let onInvalid: (@Sendable (String, InputError) -> Void)?
        package var index = 0
        package let checksDuplicates: Bool
        /// Every id seen, to reject duplicates (stdin only): 6 bytes an id, and a duplicate is
        /// never missed (see ``IDFingerprints`` for the other way round).
        package var seen = IDFingerprints()
        /// The line of the item returned last.
        package private(set) var lineNumber = 0

        package mutating func next() async throws -> BatchItem<Input>? {
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
                let id = error.itemID ?? String(line.number)
                if !skip(id) { onInvalid(id, error) }
                return nil
            }
            guard let parsed else { return nil }
            lineNumber = line.number
            if checksDuplicates, !seen.insert(parsed.id) {
                throw InputError(
                    file: file,
                    line: line.number,
                    message: "duplicate id '\(parsed.id)' (also on an earlier line); ids must be unique"
                )
            }
            index += 1
            return BatchItem(index: index - 1, id: parsed.id, input: parsed.input)
        }
    }

    package func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(
            lines: Lines(reader: reader).makeAsyncIterator(),
            file: reader.name,
            format: format,
            parser: parser,
            skip: skip,
            skipped: skipped,
            onInvalid: onInvalid,
            checksDuplicates: checksDuplicates
        )
    }
}

/// A thread-safe count.
package final class Tally: Sendable {
    private let value = Mutex(0)
    /// A count at zero.
    package init() {}
    package func add(_ count: Int = 1) { value.withLock { $0 += count } }
    package var count: Int { value.withLock { $0 } }
}
