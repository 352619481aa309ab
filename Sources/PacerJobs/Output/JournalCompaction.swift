#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Rewrites an output file with one line per id, atomically: after a `--retry-failed` run
/// appended new lines for ids that already had a failure line.
///
/// The line kept for an id is the one ``Journal`` reads as the id's line: its success line if
/// it has one, otherwise its newest line. The other lines of that id are dropped; every other
/// line is copied byte for byte, in order.
///
/// Crash safety: the new file is written beside the old one (`FILE.compacting`), flushed to
/// disk (`fsync`), and renamed over it; then the folder is flushed, so the rename itself
/// survives a power cut. A crash at any point leaves either the old file or the new one, both
/// valid journals (a stray `FILE.compacting` is overwritten by the next compaction).
///
/// Memory: ids seen more than once are found with a Bloom filter (about 16 bits a line) and
/// confirmed exactly in a second pass, as the input's duplicate check does; only the ids
/// that have several lines (those redone) are kept as text.
package enum JournalCompaction {
    /// Compacts the file at `path`; returns the number of lines dropped (0 leaves the file as
    /// it is).
    ///
    /// - Parameters:
    ///   - path: The output file (or an OpenAI Batch API errors file).
    ///   - lines: About how many lines the file has (to size the Bloom filter).
    ///   - supersededBy: Ids whose every line here is dropped: with an OpenAI Batch API
    ///     errors file, the ids that now have a success in the output file.
    /// - Throws: ``InputError`` naming the file when it cannot be read or rewritten; the file
    ///   is then unchanged.
    package static func compact(path: String, lines: Int, supersededBy: IDFingerprints? = nil) async throws -> Int {
        // 1. Ids that may have more than one line, and lines whose id succeeded elsewhere.
        var filter = BloomFilter(bits: max(lines, 1) * 16)
        var suspects: Set<String> = []
        var drop: Set<Int> = []
        try await Journal.scan(path: path) { number, line in
            guard case .entry(let id, _) = line else { return }
            if let supersededBy, supersededBy.contains(id) {
                drop.insert(number)
            } else if filter.insert(id) {
                suspects.insert(id)
            }
        }
        if !suspects.isEmpty {
            // 2. For each of them, the line that stays.
            var kept: [String: (line: Int, succeeded: Bool)] = [:]
            var linesOfSuspects: [Int] = []
            try await Journal.scan(path: path) { number, line in
                guard case .entry(let id, let succeeded) = line, suspects.contains(id), !drop.contains(number) else {
                    return
                }
                linesOfSuspects.append(number)
                if let current = kept[id], current.succeeded { return }
                kept[id] = (number, succeeded)
            }
            let keep = Set(kept.values.map(\.line))
            drop.formUnion(linesOfSuspects.filter { !keep.contains($0) })
        }
        guard !drop.isEmpty else { return 0 }
        // 3. Copy every other line beside the file, flush, rename over it.
        try await rewrite(path: path, dropping: drop)
        return drop.count
    }

    private static func rewrite(path: String, dropping drop: Set<Int>) async throws {
        let temporary = path + ".compacting"
        let reader = try FileReader(path: path)
        var info = stat()
        _ = stat(path, &info)
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, info.st_mode & 0o777)
        guard descriptor >= 0 else { throw error("cannot create \(temporary) to compact it", path: path) }
        var closed = false
        defer { if !closed { close(descriptor) } }
        var number = 1
        var pending: [UInt8] = []
        pending.reserveCapacity(1 << 18)
        while true {
            let chunk = try await reader.read(upTo: 256 * 1024)
            if chunk.isEmpty { break }
            var start = 0
            for index in chunk.indices where chunk[index] == UInt8(ascii: "\n") {
                if !drop.contains(number) { pending.append(contentsOf: chunk[start...index]) }
                number += 1
                start = index + 1
            }
            if start < chunk.count, !drop.contains(number) { pending.append(contentsOf: chunk[start...]) }
            if pending.count >= 1 << 18 {
                try writeAll(pending, to: descriptor, path: temporary)
                pending.removeAll(keepingCapacity: true)
            }
        }
        try writeAll(pending, to: descriptor, path: temporary)
        guard fsync(descriptor) == 0 else { throw error("cannot flush \(temporary)", path: path) }
        closed = true
        guard close(descriptor) == 0 else { throw error("cannot close \(temporary)", path: path) }
        guard rename(temporary, path) == 0 else {
            let failure = error("cannot rename \(temporary) over it", path: path)
            unlink(temporary)
            throw failure
        }
        syncFolder(of: path)
    }

    private static func writeAll(_ bytes: [UInt8], to descriptor: Int32, path: String) throws {
        guard PacerJobs.writeAll(bytes, to: descriptor) else { throw error("cannot write \(path)", path: path) }
    }

    /// Flushes the folder holding `path`, so that a rename in it is on disk.
    private static func syncFolder(of path: String) {
        let folder = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        let descriptor = open(folder.isEmpty ? "/" : folder, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        _ = fsync(descriptor)
        close(descriptor)
    }

    private static func error(_ what: String, path: String) -> InputError {
        InputError(
            file: path,
            message: "\(what): \(String(cString: strerror(errno))); the file is unchanged and still a valid journal"
        )
    }
}
