extension JSONScanner {
    /// The offset of the first byte from `start` on that ends a string's plain run: a quote,
    /// a backslash or a control character (below 0x20), or the end of the text.
    ///
    /// Both string steps go through runs with it: nearly every byte of most strings is plain,
    /// and a skimmed answer is mostly one long string. Eight bytes at a time while eight are
    /// left: a lane is flagged when it XORs to zero with `"` or `\` (zero minus one borrows
    /// into its high bit) or is below 0x20 (the same with 0x20); a borrow only runs into the
    /// lanes above a flagged one, so the lowest flagged lane is the first such byte.
    @inline(__always)
    func plainRunEnd(from start: Int) -> Int {
        var index = start
        if let base = bytes.baseAddress {
            let ones: UInt64 = 0x0101_0101_0101_0101
            let highBits: UInt64 = 0x8080_8080_8080_8080
            while index + 8 <= bytes.count {
                let word = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: index, as: UInt64.self))
                let quotes = word ^ 0x2222_2222_2222_2222
                let backslashes = word ^ 0x5C5C_5C5C_5C5C_5C5C
                let flagged =
                    ((quotes &- ones) & ~quotes | (backslashes &- ones) & ~backslashes
                        | (word &- 0x2020_2020_2020_2020) & ~word) & highBits
                if flagged != 0 { return index + flagged.trailingZeroBitCount / 8 }
                index += 8
            }
        }
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20 { return index }
            index += 1
        }
        return index
    }

    /// Reads the string whose opening quote is next, escapes decoded; its bytes must be valid
    /// UTF-8 and its `\u` escapes whole characters (no lone surrogate).
    mutating func scanString() throws(JSONParseError) -> String {
        position += 1  // "
        let start = position
        // The common case: no escapes, so the bytes are the string.
        position = plainRunEnd(from: start)
        if current == UInt8(ascii: "\"") {
            let text = try makeString(UnsafeRawBufferPointer(rebasing: bytes[start..<position]), at: start)
            position += 1
            return text
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
                let end = plainRunEnd(from: position)
                unescaped.append(contentsOf: bytes[position..<end])
                position = end
            }
        }
    }

    /// Steps past the string whose opening quote is next: its escapes and control characters
    /// checked, its text not built (nor checked for valid UTF-8 or lone surrogates).
    mutating func skipString() throws(JSONParseError) {
        position += 1  // "
        while true {
            position = plainRunEnd(from: position)
            guard let byte = current else { throw failure("unexpected end of data in a string") }
            switch byte {
            case UInt8(ascii: "\""):
                position += 1
                return
            case UInt8(ascii: "\\"):
                position += 1
                try skipEscape()
            default:
                throw failure("unescaped control character in a string")
            }
        }
    }

    /// The bytes of a string without escapes as a `String`.
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
            var scalar = UInt32(try scanHex4())
            if (0xD800...0xDBFF).contains(scalar) {
                guard bytes.count - position >= 2, bytes[position] == UInt8(ascii: "\\"),
                    bytes[position + 1] == UInt8(ascii: "u")
                else {
                    throw failure("a high surrogate without its low surrogate")
                }
                position += 2
                let low = UInt32(try scanHex4())
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

    /// Reads the four hex digits of a `\u` escape.
    private mutating func scanHex4() throws(JSONParseError) -> UInt16 {
        guard bytes.count - position >= 4 else { throw failure("a \\u escape needs four hex digits") }
        var value: UInt16 = 0
        for _ in 0..<4 {
            guard let digit = Self.hexValue(bytes[position]) else {
                throw failure("a \\u escape needs four hex digits")
            }
            value = value << 4 | UInt16(digit)
            position += 1
        }
        return value
    }

    /// Steps past the escape after a backslash, checking it without decoding it.
    private mutating func skipEscape() throws(JSONParseError) {
        guard let escaped = current else { throw failure("unexpected end of data in a string") }
        switch escaped {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
            UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            position += 1
        case UInt8(ascii: "u"):
            position += 1
            for _ in 0..<4 {
                guard let hex = current, Self.hexValue(hex) != nil else { throw failure("invalid \\u escape") }
                position += 1
            }
        default:
            throw failure("invalid escape in a string")
        }
    }

    /// The value of a hex digit (either case), or `nil` for another byte.
    @inline(__always)
    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
