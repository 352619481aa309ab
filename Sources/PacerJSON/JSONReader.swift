/// Reads a JSON document member by member, for a caller that knows the shape it expects:
/// it builds only the values it asks for and skips the rest, checked for shape but not built.
///
/// ``JSONValue/init(parsing:maxDepth:)`` builds a dictionary for every object; a reader of a
/// chat completion needs four fields of it. The same grammar and limits apply: invalid JSON
/// anywhere, a skipped member included, is a ``JSONParseError``.
package struct JSONReader: ~Copyable {
    private var scanner: JSONScanner
    /// The nesting level of the container being read, 0 at the top.
    private var depth = 0

    private init(bytes: UnsafeRawBufferPointer, maxDepth: Int) {
        scanner = JSONScanner(bytes: bytes, maxDepth: maxDepth)
    }

    /// Reads `bytes` with `body`, which must consume exactly one value; anything but
    /// whitespace after it is an error.
    package static func read<Result>(
        _ bytes: UnsafeRawBufferPointer,
        maxDepth: Int = 512,
        _ body: (inout JSONReader) throws(JSONParseError) -> Result
    ) throws(JSONParseError) -> Result {
        var reader = JSONReader(bytes: bytes, maxDepth: maxDepth)
        reader.scanner.skipWhitespace()
        let value = try body(&reader)
        try reader.scanner.finish()
        return value
    }

    /// The byte offset of the next value (or of where reading stopped), for a caller that
    /// names the line a value is on.
    package var offset: Int { scanner.position }

    /// What the next value is, without reading it.
    package enum Kind: Sendable {
        case object, array, string, number, bool, null
    }

    /// The kind of the next value, or `nil` at the end of the data or before a byte no
    /// value starts with (reading it then throws).
    package var kind: Kind? {
        guard let byte = scanner.current else { return nil }
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
        let value = try scanner.parseValue(depth: depth)
        scanner.skipWhitespace()
        return value
    }

    /// Reads past the next value, checking its shape.
    package mutating func skip() throws(JSONParseError) {
        try scanner.skipValue(depth: depth)
        scanner.skipWhitespace()
    }

    /// Reads the next value, which must be an object, calling `member` with each key; `member`
    /// must consume the key's value (``value()``, ``skip()``, ``members(_:)`` …).
    package mutating func members(
        _ member: (inout JSONReader, String) throws(JSONParseError) -> Void
    ) throws(JSONParseError) {
        guard scanner.current == UInt8(ascii: "{") else { throw scanner.failure("expected an object") }
        depth += 1
        defer { depth -= 1 }
        try scanner.enter(depth: depth)
        if !scanner.skip(UInt8(ascii: "}")) {
            repeat {
                try scanner.expectKey()
                let key = try scanner.scanString()
                try scanner.skipColon()
                try member(&self, key)
            } while try scanner.nextMember()
        }
        scanner.skipWhitespace()
    }

    /// Reads the next value, which must be an array, calling `element` with each offset;
    /// `element` must consume the element.
    package mutating func elements(
        _ element: (inout JSONReader, Int) throws(JSONParseError) -> Void
    ) throws(JSONParseError) {
        guard scanner.current == UInt8(ascii: "[") else { throw scanner.failure("expected an array") }
        depth += 1
        defer { depth -= 1 }
        try scanner.enter(depth: depth)
        if !scanner.skip(UInt8(ascii: "]")) {
            var offset = 0
            repeat {
                try element(&self, offset)
                offset += 1
            } while try scanner.nextElement()
        }
        scanner.skipWhitespace()
    }
}
