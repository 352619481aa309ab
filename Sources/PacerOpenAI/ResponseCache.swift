import Crypto
import Foundation
import NIOCore
import PacerCore
import PacerJSON
import Synchronization

/// Answers kept under a hash of the request that decided them, so that a later run (another
/// file, another command, another machine of a fleet) that sends the same request gets the
/// answer without sending it: `--cache DIR` or `--cache postgres://…`.
///
/// **The key** is the SHA-256 of the endpoint's path and the request body written with its
/// keys in sorted order: what decides the answer. Never the API key, the headers or the
/// server's URL, so that the deployments of one model share their answers.
///
/// **What is kept**: 2xx answers only, as the server sent them (status, `request-id`, body);
/// a client reads a kept answer through the same code as a live one. A request whose answer
/// is drawn at random (a `temperature` above 0, or none, which is 1 for chat) is kept only
/// with ``Configuration/nondeterministic``; embeddings and moderations always are.
///
/// **Where**: a `ResponseStorage` keeps the entries, bounded, oldest out first: a folder
/// (``FolderResponseStorage``) or a table many machines share (PacerPostgres'
/// `PostgresResponseStorage`).
///
/// **Safe to share and to break**: each entry carries a format line and its own key, so an
/// entry that does not read back (cut, edited, another version's) is a miss, never an error;
/// so is a storage that cannot be reached.
public final class ResponseCache: Sendable {
    /// A cache in a folder, and what it keeps.
    public struct Configuration: Sendable {
        /// The folder (created when missing).
        public var directory: String
        /// The most bytes kept. Default 1 GiB.
        public var maxBytes: Int64
        /// Keep answers of requests sampled at random too (`temperature` above 0 or unset).
        public var nondeterministic: Bool

        /// A cache in `directory`.
        public init(directory: String, maxBytes: Int64 = 1 << 30, nondeterministic: Bool = false) {
            self.directory = directory
            self.maxBytes = maxBytes
            self.nondeterministic = nondeterministic
        }
    }

    /// One kept answer.
    public struct Entry: Sendable, Hashable {
        /// The HTTP status (2xx).
        public var status: Int
        /// The server's request id, if it sent one.
        public var requestID: String?
        /// The body as the server sent it.
        public var body: ByteBuffer

        /// Creates an entry.
        public init(status: Int, requestID: String?, body: ByteBuffer) {
            self.status = status
            self.requestID = requestID
            self.body = body
        }
    }

    /// What the cache did during a run.
    public struct Counts: Sendable, Hashable {
        /// Answers given from the cache.
        public var hits = 0
        /// Lookups that found nothing.
        public var misses = 0
        /// Answers kept.
        public var stored = 0
        /// Requests not looked up, their answers drawn at random (see ``Configuration/nondeterministic``).
        public var nondeterministic = 0
        /// What went to stay under the bound: a folder's generations, a table's entries.
        public var evicted = 0
    }

    /// A hash of what decides an answer.
    public struct Key: Sendable, Hashable {
        /// 64 lowercase hex digits.
        public var hex: String
    }

    /// Whether answers drawn at random are kept too.
    public let nondeterministic: Bool
    /// Where the entries are.
    public let storage: any ResponseStorage
    private let tally = Mutex(Counts())

    /// The first line of every entry: a format version, so that another version's entries miss.
    static let magic = "pacer-cache 1"

    /// Opens (creating) a cache in ``Configuration/directory``.
    ///
    /// - Throws: An error naming the folder when it cannot be created or read.
    public convenience init(configuration: Configuration) throws {
        self.init(
            storage: try FolderResponseStorage(directory: configuration.directory, maxBytes: configuration.maxBytes),
            nondeterministic: configuration.nondeterministic
        )
    }

    /// A cache whose entries `storage` keeps; answers drawn at random are kept too when
    /// `nondeterministic`.
    public init(storage: any ResponseStorage, nondeterministic: Bool = false) {
        self.storage = storage
        self.nondeterministic = nondeterministic
    }

    /// The key of a request for `endpoint` (its path) with `body`, or `nil` when its answer is
    /// drawn at random and such answers are not kept (counted in ``Counts/nondeterministic``).
    ///
    /// - Parameters:
    ///   - endpoint: The endpoint's path (`chat/completions`).
    ///   - body: The request body, as sent.
    ///   - counting: Whether a request not kept counts in ``Counts/nondeterministic`` (a
    ///     lookup's `true`; the store after the answer passes `false`, not to count it twice).
    public func key(endpoint: String, body: JSONValue, counting: Bool = true) -> Key? {
        guard nondeterministic || Self.isDeterministic(endpoint: endpoint, body: body) else {
            if counting { tally.withLock { $0.nondeterministic += 1 } }
            return nil
        }
        return Self.key(endpoint: endpoint, body: body)
    }

    /// The key of a request, whatever its sampling.
    static func key(endpoint: String, body: JSONValue) -> Key {
        var bytes = Array(endpoint.utf8)
        bytes.append(0x0A)
        body.write(to: &bytes)
        return Key(hex: SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined())
    }

    /// Whether the answer to this request is not drawn at random: embeddings and moderations,
    /// and requests with `temperature` 0 (an absent one is the API's default, 1).
    public static func isDeterministic(endpoint: String, body: JSONValue) -> Bool {
        if endpoint == APIEndpoint.embeddings.path || endpoint == APIEndpoint.moderations.path { return true }
        if case .number(let temperature)? = body["temperature"], temperature.double == 0 { return true }
        return false
    }

    /// The answer kept under `key`; `nil` when there is none, it does not read back, or the
    /// storage cannot be read now.
    public func entry(for key: Key) async -> Entry? {
        if let bytes = await storage.value(for: key.hex), let entry = Self.decode(bytes, key: key) {
            tally.withLock { $0.hits += 1 }
            return entry
        }
        tally.withLock { $0.misses += 1 }
        return nil
    }

    /// Keeps `entry` under `key`. A failure to write is not an error: the answer is simply
    /// not kept.
    public func store(_ entry: Entry, for key: Key) async {
        guard let evicted = await storage.store(Self.encode(entry, key: key), for: key.hex) else { return }
        tally.withLock { counts in
            counts.stored += 1
            counts.evicted += evicted
        }
    }

    /// What the cache did so far.
    public var counts: Counts { tally.withLock { $0 } }

    /// The bytes the cache holds now.
    public var bytes: Int64 { get async { await storage.bytes } }

    /// `magic`, the key, the status and the request id (or `-`), a line each; then the body.
    static func encode(_ entry: Entry, key: Key) -> [UInt8] {
        var bytes = Array("\(magic)\n\(key.hex)\n\(entry.status)\n\(entry.requestID ?? "-")\n".utf8)
        bytes.append(contentsOf: entry.body.readableBytesView)
        return bytes
    }

    /// The entry in `bytes`, when it is one whole entry for `key`.
    static func decode(_ bytes: [UInt8], key: Key) -> Entry? {
        var lines: [Substring] = []
        var start = bytes.startIndex
        while lines.count < 4, let newline = bytes[start...].firstIndex(of: 0x0A) {
            lines.append(Substring(decoding: bytes[start..<newline], as: UTF8.self))
            start = newline + 1
        }
        guard lines.count == 4, lines[0] == magic, lines[1] == key.hex, let status = Int(lines[2]),
            (200...299).contains(status), start < bytes.endIndex
        else { return nil }
        // A body cut short reads as no answer where the client reads it, as a live one would.
        let body = ByteBuffer(bytes: bytes[start...])
        return Entry(status: status, requestID: lines[3] == "-" ? nil : String(lines[3]), body: body)
    }
}
