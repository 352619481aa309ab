import Crypto
import Foundation

/// Who a request comes from: the SHA-256 of its bearer key. A key itself is never stored,
/// logged or returned; what a key created is kept under its digest, so that only the same
/// key sees it again.
public struct KeyOwner: Hashable, Sendable, Codable {
    /// The key's SHA-256, in hex.
    public let digest: String

    /// The owner of `key`.
    public init(key: String) {
        digest = SHA256.hash(data: Data(key.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// An owner read back from the data folder.
    init(digest: String) {
        self.digest = digest
    }
}

/// The keys a server admits (`--client-keys FILE`): one key per line, optionally followed by
/// whitespace and a name for it; blank lines and lines starting with `#` are skipped.
public struct ClientKeys: Sendable {
    /// The admitted owners and their names (the key itself, if no name was given, is not kept).
    public let names: [KeyOwner: String]

    /// Keys and their names.
    public init(_ keys: [(key: String, name: String?)]) {
        var names: [KeyOwner: String] = [:]
        for (number, entry) in keys.enumerated() {
            names[KeyOwner(key: entry.key)] = entry.name ?? "key \(number + 1)"
        }
        self.names = names
    }

    /// Whether `owner`'s key is admitted.
    public func admits(_ owner: KeyOwner) -> Bool { names[owner] != nil }

    /// Reads a keys file, or says which line of it is wrong.
    public static func load(path: String) throws -> ClientKeys {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ClientKeysError(message: "\(path): cannot read the client keys file (\(error.localizedDescription))")
        }
        var keys: [(key: String, name: String?)] = []
        var seen: Set<KeyOwner> = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(maxSplits: 1, whereSeparator: { $0 == " " || $0 == "\t" })
            let key = String(fields[0])
            let name = fields.count > 1 ? fields[1].trimmingCharacters(in: .whitespaces) : nil
            guard seen.insert(KeyOwner(key: key)).inserted else {
                throw ClientKeysError(message: "\(path):\(index + 1): this key is already on an earlier line")
            }
            keys.append((key, name))
        }
        guard !keys.isEmpty else {
            throw ClientKeysError(message: "\(path): no keys (one per line, optionally followed by a name)")
        }
        return ClientKeys(keys)
    }
}

/// A client keys file that cannot be used; the message names the file and line.
public struct ClientKeysError: Error, Sendable, CustomStringConvertible {
    /// What is wrong, with the file and line.
    public let message: String
    /// The message.
    public var description: String { message }
}
