import Foundation

extension JSONValue {
    /// Parses one JSON value (RFC 8259) from UTF-8 bytes.
    ///
    /// A direct byte parser: every input line and response body goes through it, and
    /// `JSONDecoder` decoding into this enum tried each case in turn, throwing on each
    /// miss, at several times the cost. Strict like `JSONDecoder`: invalid UTF-8, lone
    /// surrogates and trailing data are errors; nesting deeper than `maxDepth` is an error
    /// instead of a stack overflow. Numbers keep their exact text (``JSONNumber``), so one
    /// beyond `Double`'s range is read, and written back, as it is.
    ///
    /// - Parameters:
    ///   - bytes: The JSON text.
    ///   - maxDepth: The deepest nesting of objects and arrays allowed.
    /// - Throws: ``JSONParseError`` for anything but one whole JSON value.
    public init(parsing bytes: UnsafeRawBufferPointer, maxDepth: Int = 512) throws(JSONParseError) {
        var scanner = JSONScanner(bytes: bytes, maxDepth: maxDepth)
        scanner.skipWhitespace()
        self = try scanner.parseValue(depth: 0)
        try scanner.finish()
    }

    /// Parses one JSON value from `data`.
    public init(parsing data: Data) throws(JSONParseError) {
        let result = data.withUnsafeBytes { bytes in
            Result { () throws(JSONParseError) in try JSONValue(parsing: bytes) }
        }
        self = try result.get()
    }

    /// Parses one JSON value from `text`.
    public init(parsing text: String) throws(JSONParseError) {
        var text = text
        let result = text.withUTF8 { bytes in
            Result { () throws(JSONParseError) in try JSONValue(parsing: UnsafeRawBufferPointer(bytes)) }
        }
        self = try result.get()
    }
}

/// The tree parser: the scanner's steps, building every value whole.
extension JSONScanner {
    /// Reads the value that is next, whole.
    ///
    /// - Parameter depth: The nesting level of the container the value is in, 0 at the top.
    mutating func parseValue(depth: Int) throws(JSONParseError) -> JSONValue {
        guard let byte = current else { throw failure("unexpected end of data") }
        switch byte {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try scanString())
        case UInt8(ascii: "t"):
            try expectLiteral("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try expectLiteral("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try expectLiteral("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .number(try scanNumber())
        default:
            throw unexpected(byte)
        }
    }

    private mutating func parseObject(depth: Int) throws(JSONParseError) -> JSONValue {
        try enter(depth: depth)
        if skip(UInt8(ascii: "}")) { return .object([:]) }
        // The members are gathered first and the dictionary made once at its size: growing it
        // member by member hashed every key again at each growth.
        var members: [(String, JSONValue)] = []
        members.reserveCapacity(8)
        repeat {
            try expectKey()
            let key = try scanString()
            try skipColon()
            members.append((key, try parseValue(depth: depth)))
        } while try nextMember()
        // A repeated key keeps its last value.
        return .object(Dictionary(members, uniquingKeysWith: { _, last in last }))
    }

    private mutating func parseArray(depth: Int) throws(JSONParseError) -> JSONValue {
        try enter(depth: depth)
        var array: [JSONValue] = []
        if skip(UInt8(ascii: "]")) { return .array(array) }
        repeat {
            array.append(try parseValue(depth: depth))
        } while try nextElement()
        return .array(array)
    }
}
