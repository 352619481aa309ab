import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A line of output that writes itself as JSON.
package protocol OutputRecord: Sendable {
    /// Appends the line's JSON, without the newline; `encoder` is the writer's, for lines
    /// that are `Encodable`.
    func appendJSON(to output: inout [UInt8], encoder: JSONEncoder) throws
}

/// A line already written once (a result a worker stored, say), written again as it is.
package struct StoredLine: OutputRecord {
    /// The line's JSON text, without the newline.
    package var text: String

    /// A line of `text`.
    package init(text: String) {
        self.text = text
    }

    package func appendJSON(to output: inout [UInt8], encoder: JSONEncoder) {
        output.append(contentsOf: text.utf8)
    }
}

extension OutputRecord where Self: Encodable {
    package func appendJSON(to output: inout [UInt8], encoder: JSONEncoder) throws {
        output.append(contentsOf: try encoder.encode(self))
    }
}

/// Writes JSONL output: whole lines only, each line as soon as the batch has nothing else
/// finished to write with it.
///
/// A line is written with ``write(_:flush:)`` at once, or, with `flush: false`, kept until
/// ``flush()`` (which the batch calls whenever it has caught up with its finished items) or
/// until 64 KiB are waiting; then they are written in one `write(2)`. Lines are appended whole,
/// so a crash leaves at most one torn line at the end, and at most the lines of one burst of
/// finished items unwritten.
package final class OutputWriter: Sendable {
    /// The encoder, and lines not written yet.
    private struct State {
        var encoder: JSONEncoder
        var pending: [UInt8] = []
        var lines = 0
    }

    /// Waiting lines are written once they hold this many bytes.
    package static let flushBytes = 64 << 10

    package let name: String
    private let descriptor: Int32
    private let ownsDescriptor: Bool
    private let state: Mutex<State>
    private let lineCount = Atomic<Int>(0)

    /// The lines written so far.
    package var linesWritten: Int { lineCount.load(ordering: .relaxed) }

    /// Opens `path` for appending (created if missing); `nil` or `-` is stdout.
    ///
    /// The file is never emptied: it is the journal a rerun continues (see ``Journal``).
    package init(path: String?) throws(InputError) {
        let encoder = JSONEncoder()
        // Sorted keys: the same item gives the same line on every platform and run.
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        var state = State(encoder: encoder)
        state.pending.reserveCapacity(Self.flushBytes + 4096)
        self.state = Mutex(state)
        guard let path, path != "-" else {
            name = "<stdout>"
            descriptor = STDOUT_FILENO
            ownsDescriptor = false
            return
        }
        name = path
        descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw InputError(file: path, message: "cannot open for writing: \(String(cString: strerror(errno)))")
        }
        ownsDescriptor = true
    }

    deinit {
        // Whatever a caller forgot to flush (every path of a batch flushes).
        try? flush()
        if ownsDescriptor { close(descriptor) }
    }

    /// Encodes `line` and writes it with its newline, together with the lines waiting.
    ///
    /// - Parameters:
    ///   - line: The line.
    ///   - flush: `false` keeps it (and the lines before it) until ``flush()``, or until 64 KiB
    ///     wait.
    package func write(_ line: some OutputRecord, flush: Bool = true) throws {
        try state.withLock { state in
            let start = state.pending.count
            do {
                try line.appendJSON(to: &state.pending, encoder: state.encoder)
            } catch {
                state.pending.removeSubrange(start...)
                throw error
            }
            state.pending.append(UInt8(ascii: "\n"))
            state.lines += 1
            if flush || state.pending.count >= Self.flushBytes { try writePending(&state) }
        }
    }

    /// Writes the lines waiting, if any.
    package func flush() throws {
        try state.withLock { try writePending(&$0) }
    }

    private func writePending(_ state: inout State) throws {
        guard !state.pending.isEmpty else { return }
        guard writeAll(state.pending, to: descriptor) else {
            throw InputError(file: name, message: "cannot write: \(String(cString: strerror(errno)))")
        }
        state.pending.removeAll(keepingCapacity: true)
        lineCount.add(state.lines, ordering: .relaxed)
        state.lines = 0
    }
}

/// Writes all of `bytes` to `descriptor`, retrying short and interrupted writes; `false` on
/// an error, with `errno` saying which.
package func writeAll(_ bytes: [UInt8], to descriptor: Int32) -> Bool {
    bytes.withUnsafeBytes { raw in
        var offset = 0
        while offset < raw.count {
            let written = write(descriptor, raw.baseAddress! + offset, raw.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += written
        }
        return true
    }
}
