import Crypto
import Foundation
import NIOCore
import PacerJSON
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Answers kept on disk under a hash of the request that decided them, so that a later run
/// (another file, another command) that sends the same request gets the answer without
/// sending it: `--cache DIR`.
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
/// **Bounded, oldest out first**: entries are written into generations (`DIR/g000001/…`), a
/// new one begun when the newest passes an eighth of ``Configuration/maxBytes``; when the
/// whole passes ``Configuration/maxBytes`` the oldest generation is deleted. A lookup tries
/// each generation, newest first. Memory holds the byte count of each generation, never an
/// index of entries: it does not grow with the cache.
///
/// **Safe to share and to break**: each entry is written under a temporary name and renamed,
/// so processes sharing the folder read whole entries or none; an entry that does not read
/// back (cut, edited, another version's) is a miss, never an error.
public final class ResponseCache: Sendable {
    /// Where and how much.
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
        /// Generations deleted to stay under the bound.
        public var evictedGenerations = 0
    }

    /// A hash of what decides an answer.
    public struct Key: Sendable, Hashable {
        /// 64 lowercase hex digits.
        public var hex: String
    }

    /// The cache's settings.
    public let configuration: Configuration
    private let state: Mutex<State>

    private struct State {
        /// Every generation's number and bytes, oldest first.
        var generations: [(number: Int, bytes: Int64)]
        var counts = Counts()
        var temporaries = 0
    }

    /// The first line of every entry: a format version, so that another version's entries miss.
    static let magic = "pacer-cache 1"

    /// Opens (creating) the cache in ``Configuration/directory``, sizing its generations.
    ///
    /// - Throws: An error naming the folder when it cannot be created or read.
    public init(configuration: Configuration) throws {
        self.configuration = configuration
        let manager = FileManager.default
        try manager.createDirectory(atPath: configuration.directory, withIntermediateDirectories: true)
        var generations: [(number: Int, bytes: Int64)] = []
        for name in try manager.contentsOfDirectory(atPath: configuration.directory) {
            guard name.hasPrefix("g"), let number = Int(name.dropFirst()) else { continue }
            generations.append((number, Self.bytes(under: configuration.directory + "/" + name)))
        }
        generations.sort { $0.number < $1.number }
        if generations.isEmpty { generations = [(1, 0)] }
        state = Mutex(State(generations: generations))
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
        guard configuration.nondeterministic || Self.isDeterministic(endpoint: endpoint, body: body) else {
            if counting { state.withLock { $0.counts.nondeterministic += 1 } }
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

    /// The answer kept under `key`, newest generation first; `nil` when there is none or it
    /// does not read back.
    public func entry(for key: Key) -> Entry? {
        let generations = state.withLock { $0.generations.map(\.number).reversed() }
        for generation in generations {
            guard let data = FileManager.default.contents(atPath: path(of: key, in: generation)) else { continue }
            if let entry = Self.decode(data, key: key) {
                state.withLock { $0.counts.hits += 1 }
                return entry
            }
        }
        state.withLock { $0.counts.misses += 1 }
        return nil
    }

    /// Keeps `entry` under `key` in the newest generation, and deletes the oldest generations
    /// while the whole is over the bound. A failure to write is not an error: the answer is
    /// simply not kept.
    public func store(_ entry: Entry, for key: Key) {
        let data = Self.encode(entry, key: key)
        let (generation, temporary) = state.withLock { state -> (Int, Int) in
            state.temporaries += 1
            return (state.generations[state.generations.count - 1].number, state.temporaries)
        }
        let target = path(of: key, in: generation)
        let folder = (target as NSString).deletingLastPathComponent
        let scratch = "\(folder)/.\(key.hex).\(getpid()).\(temporary)"
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try data.write(to: URL(fileURLWithPath: scratch))
            guard rename(scratch, target) == 0 else {
                unlink(scratch)
                return
            }
        } catch {
            unlink(scratch)
            return
        }
        let doomed = state.withLock { state -> [Int] in
            state.counts.stored += 1
            state.generations[state.generations.count - 1].bytes += Int64(data.count)
            if state.generations[state.generations.count - 1].bytes > configuration.maxBytes / 8 {
                state.generations.append((generation + 1, 0))
            }
            var doomed: [Int] = []
            while state.generations.count > 1, state.generations.reduce(0, { $0 + $1.bytes }) > configuration.maxBytes {
                doomed.append(state.generations.removeFirst().number)
                state.counts.evictedGenerations += 1
            }
            return doomed
        }
        for generation in doomed {
            try? FileManager.default.removeItem(atPath: configuration.directory + "/" + Self.name(of: generation))
        }
    }

    /// What the cache did so far.
    public var counts: Counts { state.withLock { $0.counts } }

    /// The bytes the cache holds now.
    public var bytes: Int64 { state.withLock { $0.generations.reduce(0) { $0 + $1.bytes } } }

    private func path(of key: Key, in generation: Int) -> String {
        "\(configuration.directory)/\(Self.name(of: generation))/\(key.hex.prefix(2))/\(key.hex)"
    }

    private static func name(of generation: Int) -> String {
        let digits = String(generation)
        return "g" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits
    }

    /// `magic`, the key, the status and the request id (or `-`), a line each; then the body.
    static func encode(_ entry: Entry, key: Key) -> Data {
        var data = Data("\(magic)\n\(key.hex)\n\(entry.status)\n\(entry.requestID ?? "-")\n".utf8)
        data.append(contentsOf: entry.body.readableBytesView)
        return data
    }

    /// The entry in `data`, when it is one whole entry for `key`.
    static func decode(_ data: Data, key: Key) -> Entry? {
        var lines: [Substring] = []
        var start = data.startIndex
        while lines.count < 4, let newline = data[start...].firstIndex(of: 0x0A) {
            lines.append(Substring(decoding: data[start..<newline], as: UTF8.self))
            start = newline + 1
        }
        guard lines.count == 4, lines[0] == magic, lines[1] == key.hex, let status = Int(lines[2]),
            (200...299).contains(status), start < data.endIndex
        else { return nil }
        // A body cut short reads as no answer where the client reads it, as a live one would.
        let body = ByteBuffer(bytes: data[start...])
        return Entry(status: status, requestID: lines[3] == "-" ? nil : String(lines[3]), body: body)
    }

    /// The bytes of the files under `folder`, read with `readdir` and `stat`: a cache of a
    /// hundred thousand answers is sized in a fraction of a second (Foundation's enumerator
    /// with resource values took seconds).
    private static func bytes(under folder: String) -> Int64 {
        guard let directory = opendir(folder) else { return 0 }
        defer { closedir(directory) }
        var total: Int64 = 0
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard name != ".", name != ".." else { continue }
            let path = folder + "/" + name
            var info = stat()
            guard lstat(path, &info) == 0 else { continue }
            if (info.st_mode & S_IFMT) == S_IFDIR {
                total += bytes(under: path)
            } else if (info.st_mode & S_IFMT) == S_IFREG {
                total += Int64(info.st_size)
            }
        }
        return total
    }
}
