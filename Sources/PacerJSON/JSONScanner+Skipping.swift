extension JSONScanner {
    /// Steps past the value that is next, checking its shape (brackets, strings, numbers
    /// and literals in their place) without building it.
    ///
    /// - Parameter depth: The nesting level of the container the value is in, 0 at the top.
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
        default: throw unexpected(byte)
        }
    }

    /// Steps past the object whose opening brace is next, at nesting level `depth`.
    mutating func skipObject(depth: Int) throws(JSONParseError) {
        try enter(depth: depth)
        if skip(UInt8(ascii: "}")) { return }
        repeat {
            try expectKey()
            try skipString()
            try skipColon()
            try skipValue(depth: depth)
        } while try nextMember()
    }

    /// Steps past the array whose opening bracket is next, at nesting level `depth`;
    /// returns its number of elements.
    mutating func skipArray(depth: Int) throws(JSONParseError) -> Int {
        try enter(depth: depth)
        if skip(UInt8(ascii: "]")) { return 0 }
        var count = 0
        repeat {
            // Most skipped arrays are of numbers (an embedding's): straight to the number.
            if let byte = current, Self.startsNumber(byte) {
                try skipNumber()
            } else {
                try skipValue(depth: depth)
            }
            count += 1
        } while try nextElement()
        return count
    }
}
