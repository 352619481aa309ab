import Foundation
import Synchronization

/// The uploaded files of a server, in its data folder: `files/ID.jsonl` holds a file's
/// bytes as uploaded, `files/ID.json` what the API says of it and whose it is. Both are
/// written to a temporary name and renamed, so a server killed at any moment leaves either
/// a whole file or none; temporaries left by a kill are removed at the next start.
public final class FileStore: Sendable {
    /// What the store keeps of one file.
    public struct Record: Codable, Sendable, Hashable {
        /// `file-…`.
        public var id: String
        /// Its size in bytes.
        public var bytes: Int
        /// When it was uploaded, in seconds since 1970.
        public var createdAt: Int
        /// The name the client gave it.
        public var filename: String
        /// Its purpose (`batch`).
        public var purpose: String
        /// Its JSON lines (blank lines not counted).
        public var lines: Int
        /// Whose it is.
        public var owner: KeyOwner
    }

    /// The folder that holds the files.
    public let folder: URL
    private let records: Mutex<[String: Record]>

    /// Opens the store in `dataFolder` (created if needed), removing what an interrupted
    /// upload left and reading what is there.
    public init(dataFolder: URL) throws {
        let folder = dataFolder.appendingPathComponent("files", isDirectory: true)
        self.folder = folder
        let manager = FileManager.default
        try manager.createDirectory(at: folder, withIntermediateDirectories: true)
        var records: [String: Record] = [:]
        let decoder = JSONDecoder()
        for name in try manager.contentsOfDirectory(atPath: folder.path) {
            let url = folder.appendingPathComponent(name)
            if name.hasPrefix(".") {
                try? manager.removeItem(at: url)
                continue
            }
            guard name.hasSuffix(".json"),
                let data = try? Data(contentsOf: url),
                let record = try? decoder.decode(Record.self, from: data),
                manager.fileExists(atPath: folder.appendingPathComponent(record.id + ".jsonl").path)
            else { continue }
            records[record.id] = record
        }
        self.records = Mutex(records)
    }

    /// Where a file's bytes are.
    public func contentURL(_ id: String) -> URL {
        folder.appendingPathComponent(id + ".jsonl")
    }

    /// A new temporary file for an upload; ``commit(_:record:)`` or ``discard(_:)`` ends it.
    func temporaryURL() -> URL {
        folder.appendingPathComponent(".upload-" + UUID().uuidString)
    }

    /// Makes an upload a file: its bytes renamed into place, then its record.
    func commit(_ temporary: URL, record: Record) throws {
        try FileManager.default.moveItem(at: temporary, to: contentURL(record.id))
        do {
            try writeRecord(record)
        } catch {
            try? FileManager.default.removeItem(at: contentURL(record.id))
            throw error
        }
    }

    /// Makes `source` (a batch's output or errors) the file `record` describes, as a second
    /// link to the same bytes (a copy where the file system cannot link). Doing it again,
    /// after a kill, finishes what is missing.
    func adopt(_ source: URL, record: Record) throws {
        guard records.withLock({ $0[record.id] }) == nil else { return }
        let manager = FileManager.default
        let target = contentURL(record.id)
        if !manager.fileExists(atPath: target.path) {
            let temporary = temporaryURL()
            do {
                try manager.linkItem(at: source, to: temporary)
            } catch {
                try manager.copyItem(at: source, to: temporary)
            }
            try manager.moveItem(at: temporary, to: target)
        }
        try writeRecord(record)
    }

    /// Links the file `id`'s bytes at `target` (a batch's own hold on its input: the client
    /// may delete the file while the batch runs).
    func link(_ id: String, to target: URL) throws {
        let manager = FileManager.default
        do {
            try manager.linkItem(at: contentURL(id), to: target)
        } catch {
            try manager.copyItem(at: contentURL(id), to: target)
        }
    }

    /// Writes `record` under its id, then lists it.
    private func writeRecord(_ record: Record) throws {
        let temporary = temporaryURL()
        do {
            try JSONEncoder().encode(record).write(to: temporary)
            try FileManager.default.moveItem(at: temporary, to: folder.appendingPathComponent(record.id + ".json"))
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
        records.withLock { $0[record.id] = record }
    }

    /// Removes an upload that did not become a file.
    func discard(_ temporary: URL) {
        try? FileManager.default.removeItem(at: temporary)
    }

    /// The file `id` if `owner` created it.
    public func record(_ id: String, owner: KeyOwner) -> Record? {
        records.withLock { $0[id] }.flatMap { $0.owner == owner ? $0 : nil }
    }

    /// `owner`'s files, newest first (or oldest first), after the file `after` if given.
    public func list(
        owner: KeyOwner,
        purpose: String? = nil,
        after: String? = nil,
        limit: Int,
        newestFirst: Bool = true
    ) -> (records: [Record], hasMore: Bool) {
        var mine = records.withLock { Array($0.values) }.filter {
            $0.owner == owner && (purpose == nil || $0.purpose == purpose)
        }
        mine.sort { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
        if newestFirst { mine.reverse() }
        if let after, let index = mine.firstIndex(where: { $0.id == after }) {
            mine = Array(mine[(index + 1)...])
        }
        return (Array(mine.prefix(limit)), mine.count > limit)
    }

    /// Deletes the file `id` if `owner` created it; `false` when there is no such file of theirs.
    public func delete(_ id: String, owner: KeyOwner) throws -> Bool {
        guard record(id, owner: owner) != nil else { return false }
        records.withLock { _ = $0.removeValue(forKey: id) }
        try? FileManager.default.removeItem(at: folder.appendingPathComponent(id + ".json"))
        try? FileManager.default.removeItem(at: contentURL(id))
        return true
    }

    /// A new file id, as OpenAI's look: `file-` and 24 letters and digits.
    static func newID() -> String {
        "file-" + randomSuffix()
    }

    /// 24 random letters and digits.
    static func randomSuffix() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        return String((0..<24).map { _ in alphabet[Int.random(in: 0..<alphabet.count)] })
    }
}
