import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The output file read as the journal of earlier runs: which ids are done.
///
/// Pacer writes each line whole with one `write(2)`, so a crash can leave at most one torn
/// line, at the end; ``open(path:resume:retryFailed:)`` cuts it off before anything is
/// appended.
///
/// **One line per id.** An id's line is its success line if it has one (a success is final:
/// no run writes that id again), otherwise its newest line. A run with `--retry-failed`
/// appends a new line for each failure it redoes and then rewrites the file with only each
/// id's line (``JournalCompaction``); until then, and in files compacted by no one, every
/// reader applies the same rule.
///
/// The journal reads lines of any length (an answer can be 16 MiB) byte by byte and keeps
/// only a fingerprint of each done id (``IDFingerprints``): 6 bytes an id, not the line.
package struct Journal: Sendable {
    /// An empty journal (nothing done): the one of a run that writes to stdout.
    package init() {}

    /// The ids this run skips.
    private var done = IDFingerprints()
    /// Bytes cut off the end (a torn last line), if any.
    package private(set) var repairedBytes = 0
    /// Lines that are an item's outcome.
    package private(set) var entries = 0
    /// Of those, failures.
    package private(set) var failures = 0
    /// Lines of an id done by an earlier line: a `--retry-failed` run's, left uncompacted
    /// when it was killed before the end. A run that finds any compacts the file.
    package private(set) var superseded = 0

    /// The bytes held for the done ids (see ``IDFingerprints/storageBytes``).
    package var storageBytes: Int { done.storageBytes }

    /// How many distinct ids this run skips.
    package var doneCount: Int { done.count }

    /// Whether the item with `id` was done by an earlier run and is skipped now.
    package func isDone(_ id: String) -> Bool { done.contains(id) }

    /// Reads the journal at `path`, repairing a torn last line.
    ///
    /// - Parameters:
    ///   - path: The output file.
    ///   - resume: When `false`, an existing non-empty file is an error instead.
    ///   - retryFailed: Whether an id whose line is a failure is done again (so not skipped).
    /// - Throws: ``InputError`` when the file cannot be read, is not Pacer output, or (without
    ///   `resume`) is not empty.
    package static func open(path: String, resume: Bool, retryFailed: Bool = false) async throws -> Journal {
        try await open(paths: [path], resume: resume, retryFailed: retryFailed)
    }

    /// Reads the journal kept in several files: an OpenAI Batch API output file and its
    /// errors file, whose ids are done together (a success in either is final).
    package static func open(paths: [String], resume: Bool, retryFailed: Bool = false) async throws -> Journal {
        var journal = Journal()
        for path in paths {
            try await journal.read(path: path, resume: resume, retryFailed: retryFailed)
        }
        return journal
    }

    private mutating func read(path: String, resume: Bool, retryFailed: Bool) async throws {
        var info = stat()
        guard stat(path, &info) == 0, info.st_size > 0 else { return }
        guard resume else {
            throw InputError(
                file: path,
                message:
                    "exists and is not empty; --no-resume will not overwrite it (choose another --output, or drop --no-resume to continue it)"
            )
        }
        repairedBytes += try Self.repairTornLine(path: path, size: Int(info.st_size))
        try await Self.scan(path: path) { line, entry in
            guard case .entry(let id, let succeeded) = entry else {
                guard entry == .blank else {
                    throw InputError(
                        file: path,
                        line: line,
                        message:
                            "is not a line of Pacer output; is --output the right file? (it is read to skip finished items)"
                    )
                }
                return
            }
            entries += 1
            if !succeeded { failures += 1 }
            if succeeded || !retryFailed, !done.insert(id) { superseded += 1 }
        }
    }

    /// Reads the file at `path` through, calling `body` with each line's 1-based number and
    /// what it says. A last line without a newline counts as a line.
    package static func scan(path: String, _ body: (Int, JournalScanner.Line) throws -> Void) async throws {
        let reader = try FileReader(path: path)
        var scanner = JournalScanner()
        var number = 0
        while true {
            let chunk = try await reader.read(upTo: 256 * 1024)
            if chunk.isEmpty { break }
            try chunk.withUnsafeBytes { bytes in
                try scanner.scan(bytes) { line in
                    number += 1
                    try body(number, line)
                }
            }
        }
        try scanner.finish { line in
            number += 1
            try body(number, line)
        }
    }

    /// Cuts a last line that has no newline (a write torn by a crash); returns the bytes cut.
    private static func repairTornLine(path: String, size: Int) throws -> Int {
        let descriptor = systemOpen(path, O_RDWR)
        guard descriptor >= 0 else {
            throw InputError(file: path, message: "cannot open to continue it: \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        // Look backwards, 64 KiB at a time, for the last newline.
        var end = size
        let chunk = 64 * 1024
        var buffer = [UInt8](repeating: 0, count: chunk)
        var lastNewline = -1
        while end > 0, lastNewline < 0 {
            let start = max(0, end - chunk)
            let count = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, end - start, off_t(start)) }
            guard count == end - start else {
                throw InputError(file: path, message: "cannot read: \(String(cString: strerror(errno)))")
            }
            if let index = buffer[0..<count].lastIndex(of: UInt8(ascii: "\n")) { lastNewline = start + index }
            if end == size, lastNewline == size - 1 { return 0 }
            end = start
        }
        let keep = lastNewline + 1
        guard ftruncate(descriptor, off_t(keep)) == 0 else {
            throw InputError(file: path, message: "cannot cut the torn last line: \(String(cString: strerror(errno)))")
        }
        return size - keep
    }
}

private func systemOpen(_ path: String, _ flags: Int32) -> Int32 {
    open(path, flags)
}
