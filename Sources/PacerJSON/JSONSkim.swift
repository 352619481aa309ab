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
        var parser = JSONParser(bytes: bytes, maxDepth: 512)
        return try parser.skimObject(keeping: keeping, counting: counting)
    }
}

extension JSONParser {
    /// The document must be one object; see ``JSONSkim/object(in:keeping:counting:)``.
    mutating func skimObject(keeping: Set<String>, counting: String?) throws(JSONParseError) -> JSONSkim {
        skipWhitespace()
        guard current == UInt8(ascii: "{") else { throw failure("expected an object") }
        position += 1
        var skim = JSONSkim(members: [:], count: nil)
        skipWhitespace()
        if current == UInt8(ascii: "}") {
            position += 1
        } else {
            members: while true {
                guard current == UInt8(ascii: "\"") else { throw failure("expected a string key") }
                let key = try skimKey()
                skipWhitespace()
                guard current == UInt8(ascii: ":") else { throw failure("expected ':' after an object key") }
                position += 1
                skipWhitespace()
                if let kept = keeping.first(where: key.is) {
                    skim.members[kept] = try parseValue(depth: 1)
                } else if let counting, key.is(counting), current == UInt8(ascii: "[") {
                    skim.count = try skipArray(depth: 2)
                } else {
                    try skipValue(depth: 1)
                }
                skipWhitespace()
                switch current {
                case UInt8(ascii: ","):
                    position += 1
                    skipWhitespace()
                case UInt8(ascii: "}"):
                    position += 1
                    break members
                default:
                    throw failure("expected ',' or '}' in an object")
                }
            }
        }
        skipWhitespace()
        guard position == bytes.count else { throw failure("unexpected data after the JSON value") }
        return skim
    }

    /// A key as the skim reads it: its bytes between the quotes, compared with the names
    /// asked for without building a `String` (a body has dozens of keys, and a string and a
    /// hash for each was a third of the skim); a key with escapes is decoded.
    struct SkimmedKey {
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
        let decoded = try parseString()
        position = end
        return SkimmedKey(raw: raw, decoded: decoded)
    }

    /// Reads past one value, checking its shape.
    mutating func skipValue(depth: Int) throws(JSONParseError) {
        guard let byte = current else { throw failure("unexpected end of data") }
        switch byte {
        case UInt8(ascii: "{"): try skipObject(depth: depth + 1)
        case UInt8(ascii: "["): _ = try skipArray(depth: depth + 1)
        case UInt8(ascii: "\""): try skipString()
        case UInt8(ascii: "t"): try expectLiteral("true")
        case UInt8(ascii: "f"): try expectLiteral("false")
        case UInt8(ascii: "n"): try expectLiteral("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try skipNumber()
        default: throw failure("unexpected character '\(UnicodeScalar(byte))'")
        }
    }

    private mutating func skipObject(depth: Int) throws(JSONParseError) {
        guard depth <= maxDepth else { throw failure("nested deeper than \(maxDepth) levels") }
        position += 1  // {
        skipWhitespace()
        if current == UInt8(ascii: "}") {
            position += 1
            return
        }
        while true {
            guard current == UInt8(ascii: "\"") else { throw failure("expected a string key") }
            try skipString()
            skipWhitespace()
            guard current == UInt8(ascii: ":") else { throw failure("expected ':' after an object key") }
            position += 1
            skipWhitespace()
            try skipValue(depth: depth)
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","):
                position += 1
                skipWhitespace()
            case UInt8(ascii: "}"):
                position += 1
                return
            default:
                throw failure("expected ',' or '}' in an object")
            }
        }
    }

    /// Reads past an array; returns its number of elements.
    private mutating func skipArray(depth: Int) throws(JSONParseError) -> Int {
        guard depth <= maxDepth else { throw failure("nested deeper than \(maxDepth) levels") }
        position += 1  // [
        skipWhitespace()
        if current == UInt8(ascii: "]") {
            position += 1
            return 0
        }
        var count = 0
        while true {
            // Most skipped arrays are of numbers (an embedding's): straight to the number.
            if let byte = current, byte == UInt8(ascii: "-") || Self.isDigit(byte) {
                try skipNumber()
            } else {
                try skipValue(depth: depth)
            }
            count += 1
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","):
                position += 1
                skipWhitespace()
            case UInt8(ascii: "]"):
                position += 1
                return count
            default:
                throw failure("expected ',' or ']' in an array")
            }
        }
    }

    /// Reads past a string starting at its opening quote: escapes and control characters
    /// checked, the text not built.
    private mutating func skipString() throws(JSONParseError) {
        position += 1  // "
        while position < bytes.count {
            let byte = bytes[position]
            switch byte {
            case UInt8(ascii: "\""):
                position += 1
                return
            case UInt8(ascii: "\\"):
                position += 1
                guard let escaped = current else { throw failure("unexpected end of data in a string") }
                switch escaped {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                    UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    position += 1
                case UInt8(ascii: "u"):
                    position += 1
                    for _ in 0..<4 {
                        guard let hex = current, hex.isHexDigit else { throw failure("invalid \\u escape") }
                        position += 1
                    }
                default:
                    throw failure("invalid escape in a string")
                }
            case 0..<0x20:
                throw failure("unescaped control character in a string")
            default:
                position += 1
            }
        }
        throw failure("unexpected end of data in a string")
    }
}

extension UInt8 {
    fileprivate var isHexDigit: Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(self)
            || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(self)
    }
}
