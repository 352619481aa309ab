extension JSONScanner {
    /// Reads the number that is next, by JSON's grammar, keeping its text.
    mutating func scanNumber() throws(JSONParseError) -> JSONNumber {
        let start = position
        try skipNumber()
        // ASCII by construction; a short text (most numbers) is stored inline, without allocating.
        return JSONNumber(
            validText: String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
        )
    }

    /// Steps past the number that is next, by JSON's grammar
    /// (`-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`).
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

    /// The offset of the first byte from `start` on that is not a decimal digit.
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

    /// Whether `byte` is a decimal digit.
    @inline(__always)
    static func isDigit(_ byte: UInt8) -> Bool { byte &- UInt8(ascii: "0") < 10 }

    /// Whether a number starts with `byte` (a minus or a digit).
    @inline(__always)
    static func startsNumber(_ byte: UInt8) -> Bool { byte == UInt8(ascii: "-") || isDigit(byte) }
}
