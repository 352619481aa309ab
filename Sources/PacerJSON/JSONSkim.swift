/// What ``JSONSkim/object(in:keeping:counting:)`` read from an object: the members asked
/// for, parsed whole, and the length of the array asked to be counted.
public struct JSONSkim: Sendable, Hashable {
    /// The members named in `keeping` that the object has.
    public var members: [String: JSONValue]
    /// The number of elements of the array under `counting`; `nil` when the object has no
    /// such member or it is not an array.
    public var count: Int?

    /// Reads a JSON object, building only the members a caller needs: the rest is checked
    /// for shape (brackets, strings, numbers, literals in their place, nothing after the
    /// object) and skipped without allocating.
    ///
    /// For answers Pacer keeps as the server sent them (`pacer batch` writes the body as is):
    /// a body cut off or not JSON is still told apart from a whole one, at a fraction of the
    /// cost of building every member. Skipped strings, and keys, are checked for their quotes, escapes
    /// and control characters, not for valid UTF-8.
    ///
    /// - Parameters:
    ///   - bytes: The JSON text.
    ///   - keeping: The top-level members to parse.
    ///   - counting: A top-level member whose array elements to count.
    /// - Throws: ``JSONParseError`` for a body that is not one whole JSON object.
    public static func object(
        in bytes: UnsafeRawBufferPointer,
        keeping: Set<String>,
        counting: String? = nil
    ) throws(JSONParseError) -> JSONSkim {
        var scanner = JSONScanner(bytes: bytes, maxDepth: 512)
        return try scanner.skimObject(keeping: keeping, counting: counting)
    }
}

/// The skim: the scanner's steps, building only the members asked for.
extension JSONScanner {
    /// The document must be one object; see ``JSONSkim/object(in:keeping:counting:)``.
    fileprivate mutating func skimObject(keeping: Set<String>, counting: String?) throws(JSONParseError) -> JSONSkim {
        skipWhitespace()
        guard current == UInt8(ascii: "{") else { throw failure("expected an object") }
        var skim = JSONSkim(members: [:], count: nil)
        try enter(depth: 1)
        if !skip(UInt8(ascii: "}")) {
            repeat {
                try expectKey()
                let key = try skimKey()
                try skipColon()
                if let kept = keeping.first(where: key.is) {
                    skim.members[kept] = try parseValue(depth: 1)
                } else if let counting, key.is(counting), current == UInt8(ascii: "[") {
                    skim.count = try skipArray(depth: 2)
                } else {
                    try skipValue(depth: 1)
                }
            } while try nextMember()
        }
        try finish()
        return skim
    }

    /// A key as the skim reads it: its bytes between the quotes, compared with the names
    /// asked for without building a `String` (a body has dozens of keys, and a string and a
    /// hash for each was a third of the skim); a key with escapes is decoded.
    fileprivate struct SkimmedKey {
        let raw: UnsafeRawBufferPointer
        let decoded: String?

        func `is`(_ name: String) -> Bool {
            decoded.map { $0 == name } ?? name.utf8.elementsEqual(raw)
        }
    }

    /// Reads a key starting at its opening quote.
    private mutating func skimKey() throws(JSONParseError) -> SkimmedKey {
        let start = position
        try skipString()
        let raw = UnsafeRawBufferPointer(rebasing: bytes[(start + 1)..<(position - 1)])
        guard raw.contains(UInt8(ascii: "\\")) else { return SkimmedKey(raw: raw, decoded: nil) }
        let end = position
        position = start
        let decoded = try scanString()
        position = end
        return SkimmedKey(raw: raw, decoded: decoded)
    }
}
