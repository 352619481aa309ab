import Foundation

/// A JSON text that could not be parsed.
public struct JSONParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong.
    public var message: String
    /// The 0-based byte offset where parsing stopped.
    public var offset: Int

    /// Creates an error.
    public init(message: String, offset: Int) {
        self.message = message
        self.offset = offset
    }

    /// `message at byte offset`.
    public var description: String { "\(message) at byte \(offset)" }
}

extension JSONValue {
    /// Parses one JSON value (RFC 8259) from UTF-8 bytes.
    ///
    /// A direct byte parser: every input line and response body goes through it, and
    /// `JSONDecoder` decoding into this enum tried each case in turn, throwing on each
    /// miss, at several times the cost. Strict like `JSONDecoder`: invalid UTF-8, lone
    /// surrogates and trailing data are errors; nesting deeper than `maxDepth` is an error
    /// instead of a stack overflow. Numbers keep their exact text (``JSONNumber``), so one
    /// beyond `Double`'s range is read, and written back, as it is.
    public init(parsing bytes: UnsafeRawBufferPointer, maxDepth: Int = 512) throws(JSONParseError) {
        var parser = JSONParser(bytes: bytes, maxDepth: maxDepth)
        self = try parser.parseDocument()
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

/// A recursive-descent parser over a byte buffer; see ``JSONValue/init(parsing:maxDepth:)``.
struct JSONParser {
    let bytes: UnsafeRawBufferPointer
    let maxDepth: Int
    var position = 0

    init(bytes: UnsafeRawBufferPointer, maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    mutating func parseDocument() throws(JSONParseError) -> JSONValue {
        skipWhitespace()
        let value = try parseValue(depth: 0)
        skipWhitespace()
        guard position == bytes.count else { throw failure("unexpected data after the JSON value") }
        return value
    }

    func failure(_ message: String) -> JSONParseError {
        JSONParseError(message: message, offset: position)
    }

    var current: UInt8? { position < bytes.count ? bytes[position] : nil }

    mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"): position += 1
            default: return
            }
        }
    }

    mutating func parseValue(depth: Int) throws(JSONParseError) -> JSONValue {
        guard let byte = current else { throw failure("unexpected end of data") }
        switch byte {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
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
            return .number(try parseNumber())
        default:
            throw failure("unexpected character '\(UnicodeScalar(byte))'")
        }
    }

    mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
        let count = literal.utf8CodeUnitCount
        guard bytes.count - position >= count,
            memcmp(bytes.baseAddress! + position, literal.utf8Start, count) == 0
        else {
            throw failure("invalid literal")
        }
        position += count
    }

    private mutating func parseObject(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth <= maxDepth else { throw failure("nested deeper than \(maxDepth) levels") }
        position += 1  // {
        skipWhitespace()
        if current == UInt8(ascii: "}") {
            position += 1
            return .object([:])
        }
        // The members are gathered first and the dictionary made once at its size: growing it
        // member by member hashed every key again at each growth.
        var members: [(String, JSONValue)] = []
        members.reserveCapacity(8)
        while true {
            guard current == UInt8(ascii: "\"") else { throw failure("expected a string key") }
            let key = try parseString()
            skipWhitespace()
            guard current == UInt8(ascii: ":") else { throw failure("expected ':' after an object key") }
            position += 1
            skipWhitespace()
            members.append((key, try parseValue(depth: depth)))
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","):
                position += 1
                skipWhitespace()
            case UInt8(ascii: "}"):
                position += 1
                // A repeated key keeps its last value.
                return .object(Dictionary(members, uniquingKeysWith: { _, last in last }))
            default:
                throw failure("expected ',' or '}' in an object")
            }
        }
    }

    private mutating func parseArray(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth <= maxDepth else { throw failure("nested deeper than \(maxDepth) levels") }
        position += 1  // [
        var array: [JSONValue] = []
        skipWhitespace()
        if current == UInt8(ascii: "]") {
            position += 1
            return .array(array)
        }
        while true {
            array.append(try parseValue(depth: depth))
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","):
                position += 1
                skipWhitespace()
            case UInt8(ascii: "]"):
                position += 1
                return .array(array)
            default:
                throw failure("expected ',' or ']' in an array")
            }
        }
    }

    /// Parses a string starting at its opening quote.
    mutating func parseString() throws(JSONParseError) -> String {
        position += 1  // "
        let start = position
        // The common case: no escapes, so the bytes are the string.
        while position < bytes.count {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                let text = try makeString(UnsafeRawBufferPointer(rebasing: bytes[start..<position]), at: start)
                position += 1
                return text
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw failure("unescaped control character in a string") }
            position += 1
        }
        var unescaped = Array(bytes[start..<position])
        while true {
            guard let byte = current else { throw failure("unterminated string") }
            switch byte {
            case UInt8(ascii: "\""):
                position += 1
                guard let text = unescaped.withUnsafeBufferPointer({ String(utf8Bytes: $0) }) else {
                    throw JSONParseError(message: "invalid UTF-8 in a string", offset: start)
                }
                return text
            case UInt8(ascii: "\\"):
                position += 1
                try appendEscape(to: &unescaped)
            case 0..<0x20:
                throw failure("unescaped control character in a string")
            default:
                unescaped.append(byte)
                position += 1
            }
        }
    }

    private func makeString(_ raw: UnsafeRawBufferPointer, at offset: Int) throws(JSONParseError) -> String {
        guard let text = String(utf8Bytes: raw.bindMemory(to: UInt8.self)) else {
            throw JSONParseError(message: "invalid UTF-8 in a string", offset: offset)
        }
        return text
    }

    /// Decodes the escape after a backslash.
    private mutating func appendEscape(to output: inout [UInt8]) throws(JSONParseError) {
        guard let byte = current else { throw failure("unterminated escape") }
        position += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): output.append(byte)
        case UInt8(ascii: "b"): output.append(0x08)
        case UInt8(ascii: "f"): output.append(0x0C)
        case UInt8(ascii: "n"): output.append(0x0A)
        case UInt8(ascii: "r"): output.append(0x0D)
        case UInt8(ascii: "t"): output.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = UInt32(try parseHex4())
            if (0xD800...0xDBFF).contains(scalar) {
                guard bytes.count - position >= 2, bytes[position] == UInt8(ascii: "\\"),
                    bytes[position + 1] == UInt8(ascii: "u")
                else {
                    throw failure("a high surrogate without its low surrogate")
                }
                position += 2
                let low = UInt32(try parseHex4())
                guard (0xDC00...0xDFFF).contains(low) else {
                    throw failure("a high surrogate without its low surrogate")
                }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00...0xDFFF).contains(scalar) {
                throw failure("a low surrogate without its high surrogate")
            }
            guard let unicode = Unicode.Scalar(scalar) else { throw failure("invalid \\u escape") }
            output.append(contentsOf: UTF8.encode(unicode)!)
        default:
            throw failure("invalid escape '\\\(UnicodeScalar(byte))'")
        }
    }

    private mutating func parseHex4() throws(JSONParseError) -> UInt16 {
        guard bytes.count - position >= 4 else { throw failure("a \\u escape needs four hex digits") }
        var value: UInt16 = 0
        for _ in 0..<4 {
            let byte = bytes[position]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw failure("a \\u escape needs four hex digits")
            }
            value = value << 4 | UInt16(digit)
            position += 1
        }
        return value
    }

    /// Parses a number by JSON's grammar, keeping its text.
    private mutating func parseNumber() throws(JSONParseError) -> JSONNumber {
        let start = position
        try skipNumber()
        // ASCII by construction; a short text (most numbers) is stored inline, without allocating.
        return JSONNumber(
            validText: String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
        )
    }

    /// Reads past a number by JSON's grammar.
    ///
    /// The position is kept in a local for the whole number: an embedding's answer is
    /// thousands of numbers, and stepping the stored position byte by byte cost about
    /// 50 ns a number.
    mutating func skipNumber() throws(JSONParseError) {
        let end = bytes.count
        var index = position
        if index < end, bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < end, Self.isDigit(bytes[index]) else {
            position = index
            throw failure("expected a digit")
        }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else {
            index = digitsEnd(from: index + 1)
        }
        if index < end, bytes[index] == UInt8(ascii: ".") {
            let fraction = digitsEnd(from: index + 1)
            guard fraction > index + 1 else {
                position = index + 1
                throw failure("expected a digit after '.'")
            }
            index = fraction
        }
        if index < end, bytes[index] | 0x20 == UInt8(ascii: "e") {
            index += 1
            if index < end, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            let exponent = digitsEnd(from: index)
            guard exponent > index else {
                position = index
                throw failure("expected a digit in the exponent")
            }
            index = exponent
        }
        position = index
    }

    /// The position of the first byte from `start` on that is not a decimal digit.
    ///
    /// Eight bytes at a time while eight are left: a byte is a digit when its high nibble
    /// is 3 and its low nibble plus 6 does not carry into the high one, checked for all
    /// eight lanes at once (no lane can carry into the next).
    @inline(__always)
    func digitsEnd(from start: Int) -> Int {
        var index = start
        if let base = bytes.baseAddress {
            while index + 8 <= bytes.count {
                let word = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: index, as: UInt64.self))
                let highNibbleNotThree = (word & 0xF0F0_F0F0_F0F0_F0F0) ^ 0x3030_3030_3030_3030
                let lowNibblePlusSix = (word & 0x0F0F_0F0F_0F0F_0F0F) &+ 0x0606_0606_0606_0606
                let lowNibbleAboveNine = lowNibblePlusSix & 0xF0F0_F0F0_F0F0_F0F0
                let notDigits = highNibbleNotThree | lowNibbleAboveNine
                if notDigits != 0 { return index + notDigits.trailingZeroBitCount / 8 }
                index += 8
            }
        }
        while index < bytes.count, Self.isDigit(bytes[index]) { index += 1 }
        return index
    }

    @inline(__always)
    static func isDigit(_ byte: UInt8) -> Bool { byte &- UInt8(ascii: "0") < 10 }
}
