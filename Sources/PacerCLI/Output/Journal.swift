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
/// line, at the end; ``open(path:resume:)`` cuts it off before anything is appended. For an id
/// written more than once (a failure, then a success with `--retry-failed`), the newest line
/// wins.
struct Journal: Sendable {
    /// Ids whose newest line is a success.
    private(set) var succeeded: Set<String> = []
    /// Ids whose newest line is a failure.
    private(set) var failed: Set<String> = []
    /// Bytes cut off the end (a torn last line), if any.
    private(set) var repairedBytes = 0

    /// Whether an item with `id` was done by an earlier run and is skipped now.
    func isDone(_ id: String, retryFailed: Bool) -> Bool {
        succeeded.contains(id) || (!retryFailed && failed.contains(id))
    }

    /// Reads the journal at `path`, repairing a torn last line.
    ///
    /// - Parameter resume: When `false`, an existing non-empty file is an error instead.
    /// - Throws: ``InputError`` when the file cannot be read, is not Pacer output, or (without
    ///   `resume`) is not empty.
    static func open(path: String, resume: Bool) async throws -> Journal {
        var journal = Journal()
        var info = stat()
        guard stat(path, &info) == 0, info.st_size > 0 else { return journal }
        guard resume else {
            throw InputError(
                file: path,
                message: "exists and is not empty; --no-resume will not overwrite it (choose another --output, or drop --no-resume to continue it)"
            )
        }
        journal.repairedBytes = try repairTornLine(path: path, size: Int(info.st_size))
        var lines = Lines(reader: try FileReader(path: path)).makeAsyncIterator()
        while let line = try await lines.next() {
            guard !line.text.isEmpty else { continue }
            guard let entry = try? JSONDecoder().decode(Entry.self, from: Data(line.text.utf8)), let id = entry.itemID else {
                throw InputError(
                    file: path,
                    line: line.number,
                    message: "is not a line of Pacer output; is --output the right file? (it is read to skip finished items)"
                )
            }
            if entry.isSuccess {
                journal.succeeded.insert(id)
                journal.failed.remove(id)
            } else {
                journal.failed.insert(id)
                journal.succeeded.remove(id)
            }
        }
        return journal
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

    /// The fields of an output line that say which item it is and how it ended, in Pacer's
    /// format or OpenAI's Batch API output format.
    private struct Entry: Decodable {
        struct BatchResponse: Decodable {
            var statusCode: Int?
            /// Whether the body is an error: Pacer 777de37 and earlier wrote a 200 whose body did
            /// not decode as `status_code: 200` with the error in the body and `error: null`.
            var bodyIsError = false
            enum CodingKeys: String, CodingKey { case statusCode = "status_code", body }
            enum BodyKeys: CodingKey { case error }

            init(from decoder: any Decoder) throws {
                let container = try decoder.container(keyedBy: CodingKeys.self)
                statusCode = try container.decodeIfPresent(Int.self, forKey: .statusCode)
                let body = try? container.nestedContainer(keyedBy: BodyKeys.self, forKey: .body)
                bodyIsError = (try? body?.decodeNil(forKey: .error)) == false
            }
        }

        var id: String?
        var customID: String?
        var success: Bool?
        var response: BatchResponse?
        var hasError: Bool

        enum CodingKeys: String, CodingKey {
            case id, success, response, error
            case customID = "custom_id"
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            id = try container.decodeIfPresent(String.self, forKey: .id)
            customID = try container.decodeIfPresent(String.self, forKey: .customID)
            success = try container.decodeIfPresent(Bool.self, forKey: .success)
            // In Pacer's chat lines `response` is the answer's text; in Batch API lines, an object.
            response = try? container.decodeIfPresent(BatchResponse.self, forKey: .response)
            hasError = (try? container.decodeNil(forKey: .error)) == false
        }

        var itemID: String? { customID ?? id }

        var isSuccess: Bool {
            if let success { return success }
            return !hasError && response?.bodyIsError == false && (response?.statusCode).map { (200...299).contains($0) } == true
        }
    }
}

private func systemOpen(_ path: String, _ flags: Int32) -> Int32 {
    open(path, flags)
}
