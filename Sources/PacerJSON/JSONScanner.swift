/// A position in UTF-8 JSON text (RFC 8259) and the steps every reader in this module takes
/// through it: whitespace, punctuation, literals, strings, numbers and whole values skipped.
///
/// The tree parser (``JSONValue/init(parsing:maxDepth:)``), the skim (``JSONSkim``) and the
/// pull reader (`JSONReader`) are each a loop over these steps and read no byte of the text
/// themselves, so the grammar, the nesting limit, and each error's message and offset are
/// written once. A step either moves past what it read or throws a ``JSONParseError`` at the
/// offset where the text stopped being JSON.
///
/// The steps are split by what they read: this file has the position, whitespace and
/// punctuation; `JSONScanner+Strings.swift`, `+Numbers` and `+Skipping` the rest.
struct JSONScanner {
    /// The text.
    let bytes: UnsafeRawBufferPointer
    /// The deepest nesting of objects and arrays allowed; deeper is an error, not a stack
    /// overflow.
    let maxDepth: Int
    /// The offset of the next byte to read.
    var position = 0

    /// A scanner at the start of `bytes`.
    init(bytes: UnsafeRawBufferPointer, maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    /// The next byte, or `nil` at the end of the text.
    @inline(__always)
    var current: UInt8? { position < bytes.count ? bytes[position] : nil }

    /// An error at the current position.
    func failure(_ message: String) -> JSONParseError {
        JSONParseError(message: message, offset: position)
    }

    /// The error for a byte no value starts with.
    func unexpected(_ byte: UInt8) -> JSONParseError {
        failure("unexpected character '\(UnicodeScalar(byte))'")
    }

    /// Steps past spaces, tabs and line breaks.
    @inline(__always)
    mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"): position += 1
            default: return
            }
        }
    }

    /// Steps past the whitespace after the document's one value; anything else there is an
    /// error.
    mutating func finish() throws(JSONParseError) {
        skipWhitespace()
        guard position == bytes.count else { throw failure("unexpected data after the JSON value") }
    }

    /// Steps past `literal` (`true`, `false` or `null`), which must come next.
    mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
        let count = literal.utf8CodeUnitCount
        guard bytes.count - position >= count else { throw failure("invalid literal") }
        for offset in 0..<count where bytes[position + offset] != literal.utf8Start[offset] {
            throw failure("invalid literal")
        }
        position += count
    }
}

// MARK: - Objects and arrays

extension JSONScanner {
    /// Steps into the object or array whose opening bracket is next, and past the
    /// whitespace after it.
    ///
    /// - Parameter depth: The container's nesting level, 1 for the outermost.
    @inline(__always)
    mutating func enter(depth: Int) throws(JSONParseError) {
        guard depth <= maxDepth else { throw failure("nested deeper than \(maxDepth) levels") }
        position += 1
        skipWhitespace()
    }

    /// Steps past `byte` when it is next (an empty object's `}` or array's `]`).
    @inline(__always)
    mutating func skip(_ byte: UInt8) -> Bool {
        guard current == byte else { return false }
        position += 1
        return true
    }

    /// Checks that a member's key, a string, is next.
    @inline(__always)
    func expectKey() throws(JSONParseError) {
        guard current == UInt8(ascii: "\"") else { throw failure("expected a string key") }
    }

    /// Steps past the colon after a key, and the whitespace around it.
    @inline(__always)
    mutating func skipColon() throws(JSONParseError) {
        skipWhitespace()
        guard current == UInt8(ascii: ":") else { throw failure("expected ':' after an object key") }
        position += 1
        skipWhitespace()
    }

    /// After a member's value: `true` past a comma and the whitespace after it (another
    /// member follows), `false` past the object's closing brace.
    @inline(__always)
    mutating func nextMember() throws(JSONParseError) -> Bool {
        skipWhitespace()
        switch current {
        case UInt8(ascii: ","):
            position += 1
            skipWhitespace()
            return true
        case UInt8(ascii: "}"):
            position += 1
            return false
        default:
            throw failure("expected ',' or '}' in an object")
        }
    }

    /// After an element: `true` past a comma and the whitespace after it (another element
    /// follows), `false` past the array's closing bracket.
    @inline(__always)
    mutating func nextElement() throws(JSONParseError) -> Bool {
        skipWhitespace()
        switch current {
        case UInt8(ascii: ","):
            position += 1
            skipWhitespace()
            return true
        case UInt8(ascii: "]"):
            position += 1
            return false
        default:
            throw failure("expected ',' or ']' in an array")
        }
    }
}
