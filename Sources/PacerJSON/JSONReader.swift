/// Reads a JSON document member by member, for a caller that knows the shape it expects:
/// it builds only the values it asks for and skips the rest, checked for shape but not built.
///
/// ``JSONValue/init(parsing:maxDepth:)`` builds a dictionary for every object; a reader of a
/// chat completion needs four fields of it. The same grammar and limits apply: invalid JSON
/// anywhere, a skipped member included, is a ``JSONParseError``.
package struct JSONReader: ~Copyable {
    private var parser: JSONParser
    private var depth = 0

    private init(bytes: UnsafeRawBufferPointer, maxDepth: Int) {
        parser = JSONParser(bytes: bytes, maxDepth: maxDepth)
    }

    /// Reads `bytes` with `body`, which must consume exactly one value; anything but
    /// whitespace after it is an error.
    package static func read<Result>(
        _ bytes: UnsafeRawBufferPointer,
        maxDepth: Int = 512,
        _ body: (inout JSONReader) throws(JSONParseError) -> Result
    ) throws(JSONParseError) -> Result {
        var reader = JSONReader(bytes: bytes, maxDepth: maxDepth)
        reader.parser.skipWhitespace()
        let value = try body(&reader)
        reader.parser.skipWhitespace()
        guard reader.parser.position == bytes.count else {
            throw reader.parser.failure("unexpected data after the JSON value")
        }
        return value
    }

    /// What the next value is, without reading it.
    package enum Kind: Sendable {
        case object, array, string, number, bool, null
    }

    /// The kind of the next value, or `nil` at the end of the data or before a byte no
    /// value starts with (reading it then throws).
    package var kind: Kind? {
        guard let byte = parser.current else { return nil }
        return switch byte {
        case UInt8(ascii: "{"): .object
        case UInt8(ascii: "["): .array
        case UInt8(ascii: "\""): .string
        case UInt8(ascii: "t"), UInt8(ascii: "f"): .bool
        case UInt8(ascii: "n"): .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): .number
        default: nil
        }
    }

    /// Builds the next value whole.
    package mutating func value() throws(JSONParseError) -> JSONValue {
        let value = try parser.parseValue(depth: depth)
        parser.skipWhitespace()
        return value
    }

    /// Reads past the next value, checking its shape.
    package mutating func skip() throws(JSONParseError) {
        try parser.skipValue(depth: depth)
        parser.skipWhitespace()
    }

    /// Reads the next value, which must be an object, calling `member` with each key; `member`
    /// must consume the key's value (``value()``, ``skip()``, ``members(_:)`` …).
    package mutating func members(
        _ member: (inout JSONReader, String) throws(JSONParseError) -> Void
    ) throws(JSONParseError) {
        guard parser.current == UInt8(ascii: "{") else { throw parser.failure("expected an object") }
        try enter()
        defer { depth -= 1 }
        parser.skipWhitespace()
        if parser.current == UInt8(ascii: "}") {
            parser.position += 1
            parser.skipWhitespace()
            return
        }
        while true {
            guard parser.current == UInt8(ascii: "\"") else { throw parser.failure("expected a string key") }
            let key = try parser.parseString()
            parser.skipWhitespace()
            guard parser.current == UInt8(ascii: ":") else { throw parser.failure("expected ':' after an object key") }
            parser.position += 1
            parser.skipWhitespace()
            try member(&self, key)
            switch parser.current {
            case UInt8(ascii: ","):
                parser.position += 1
                parser.skipWhitespace()
            case UInt8(ascii: "}"):
                parser.position += 1
                parser.skipWhitespace()
                return
            default:
                throw parser.failure("expected ',' or '}' in an object")
            }
        }
    }

    /// Reads the next value, which must be an array, calling `element` with each offset;
    /// `element` must consume the element.
    package mutating func elements(
        _ element: (inout JSONReader, Int) throws(JSONParseError) -> Void
    ) throws(JSONParseError) {
        guard parser.current == UInt8(ascii: "[") else { throw parser.failure("expected an array") }
        try enter()
        defer { depth -= 1 }
        parser.skipWhitespace()
        if parser.current == UInt8(ascii: "]") {
            parser.position += 1
            parser.skipWhitespace()
            return
        }
        var offset = 0
        while true {
            try element(&self, offset)
            offset += 1
            switch parser.current {
            case UInt8(ascii: ","):
                parser.position += 1
                parser.skipWhitespace()
            case UInt8(ascii: "]"):
                parser.position += 1
                parser.skipWhitespace()
                return
            default:
                throw parser.failure("expected ',' or ']' in an array")
            }
        }
    }

    /// Steps past an opening bracket into one more level of nesting.
    private mutating func enter() throws(JSONParseError) {
        depth += 1
        guard depth <= parser.maxDepth else { throw parser.failure("nested deeper than \(parser.maxDepth) levels") }
        parser.position += 1
    }
}
