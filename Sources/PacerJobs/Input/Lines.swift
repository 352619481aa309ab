import PacerHTTP
import PacerJSON

/// One line of input with its 1-based number.
package struct Line: Sendable {
    package var number: Int
    package var text: String
}

/// The lines of a file or stdin, read lazily in chunks.
///
/// A line longer than ``maxLineBytes`` or that is not UTF-8 ends the sequence with an
/// ``InputError`` naming the line. A final `\r` is removed (CRLF files).
package struct Lines: AsyncSequence, Sendable {
    /// The longest accepted line: 1 MiB.
    package static let maxLineBytes = 1 << 20

    package let reader: FileReader

    package struct AsyncIterator: AsyncIteratorProtocol {
        package let reader: FileReader
        package var buffer: [UInt8] = []
        package var start = 0
        package var number = 0
        package var finished = false

        package mutating func next() async throws -> Line? {
            while true {
                if let newline = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
                    let line = try makeLine(buffer[start..<newline])
                    start = newline + 1
                    return line
                }
                if finished {
                    guard start < buffer.count else { return nil }
                    let line = try makeLine(buffer[start...])
                    start = buffer.count
                    return line
                }
                if buffer.count - start > Lines.maxLineBytes {
                    throw InputError(file: reader.name, line: number + 1, message: "line is longer than 1 MiB")
                }
                // Drop consumed bytes, then read more.
                buffer.removeSubrange(0..<start)
                start = 0
                let chunk = try await reader.read()
                if chunk.isEmpty {
                    // Stopped (Ctrl-C): a line still being typed or piped is not a line.
                    if reader.isStopped { return nil }
                    finished = true
                } else {
                    buffer.append(contentsOf: chunk)
                }
            }
        }

        private mutating func makeLine(_ bytes: ArraySlice<UInt8>) throws -> Line {
            number += 1
            var bytes = bytes
            if bytes.last == UInt8(ascii: "\r") { bytes = bytes.dropLast() }
            guard bytes.count <= Lines.maxLineBytes else {
                throw InputError(file: reader.name, line: number, message: "line is longer than 1 MiB")
            }
            guard let text = String(utf8Bytes: bytes) else {
                throw InputError(file: reader.name, line: number, message: "not UTF-8 text (is this a binary file?)")
            }
            return Line(number: number, text: text)
        }
    }

    package func makeAsyncIterator() -> AsyncIterator { AsyncIterator(reader: reader) }
}
