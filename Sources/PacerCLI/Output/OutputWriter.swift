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
protocol OutputRecord: Sendable {
    /// Appends the line's JSON, without the newline; `encoder` is the writer's, for lines
    /// that are `Encodable`.
    func appendJSON(to output: inout [UInt8], encoder: JSONEncoder) throws
}

extension OutputRecord where Self: Encodable {
    func appendJSON(to output: inout [UInt8], encoder: JSONEncoder) throws {
        output.append(contentsOf: try encoder.encode(self))
    }
}

/// Writes JSONL output: one `write(2)` per whole line, as each item finishes.
///
/// Writing each line in one call means a crash leaves at most one torn line at the end.
final class OutputWriter: Sendable {
    let name: String
    private let descriptor: Int32
    private let ownsDescriptor: Bool
    private let encoder: Mutex<JSONEncoder>
    private let lineCount = Atomic<Int>(0)

    /// The lines written so far.
    var linesWritten: Int { lineCount.load(ordering: .relaxed) }

    /// Opens `path` for appending (created if missing); `nil` or `-` is stdout.
    ///
    /// The file is never emptied: it is the journal a rerun continues (see ``Journal``).
    init(path: String?) throws(InputError) {
        let encoder = JSONEncoder()
        // Sorted keys: the same item gives the same line on every platform and run.
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        self.encoder = Mutex(encoder)
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
        if ownsDescriptor { close(descriptor) }
    }

    /// Encodes `line` and writes it with its newline in one `write(2)`.
    func write(_ line: some OutputRecord) throws {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(512)
        try encoder.withLock { try line.appendJSON(to: &bytes, encoder: $0) }
        bytes.append(UInt8(ascii: "\n"))
        guard writeAll(bytes, to: descriptor) else {
            throw InputError(file: name, message: "cannot write: \(String(cString: strerror(errno)))")
        }
        lineCount.add(1, ordering: .relaxed)
    }
}

/// Writes all of `bytes` to `descriptor`, retrying short and interrupted writes; `false` on
/// an error, with `errno` saying which.
func writeAll(_ bytes: [UInt8], to descriptor: Int32) -> Bool {
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
