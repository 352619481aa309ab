extension String {
    /// The bytes as a string when they are valid UTF-8, else `nil`.
    ///
    /// Most JSON and most input lines are ASCII: those are checked eight bytes at a time and
    /// copied without validation. Anything else goes through `String(validating:as:)`, whose
    /// generic implementation looks up type metadata on every call (3% of `pacer batch`'s CPU
    /// when it read every string of every answer).
    ///
    /// - Parameter bytes: The bytes to read.
    public init?(utf8Bytes bytes: UnsafeBufferPointer<UInt8>) {
        guard bytes.isASCII else {
            guard let text = String(validating: bytes, as: UTF8.self) else { return nil }
            self = text
            return
        }
        self = String(decoding: bytes, as: UTF8.self)
    }

    /// The bytes as a string when they are valid UTF-8, else `nil` (see ``init(utf8Bytes:)-(UnsafeBufferPointer<UInt8>)``).
    ///
    /// - Parameter bytes: The bytes to read.
    public init?(utf8Bytes bytes: ArraySlice<UInt8>) {
        guard let text = bytes.withUnsafeBufferPointer({ String(utf8Bytes: $0) }) else { return nil }
        self = text
    }
}

extension UnsafeBufferPointer<UInt8> {
    /// Whether every byte is below 0x80, read a word at a time.
    var isASCII: Bool {
        guard let base = baseAddress else { return true }
        let raw = UnsafeRawPointer(base)
        var offset = 0
        let highBits: UInt64 = 0x8080_8080_8080_8080
        while offset + 8 <= count {
            if raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self) & highBits != 0 { return false }
            offset += 8
        }
        while offset < count {
            if base[offset] >= 0x80 { return false }
            offset += 1
        }
        return true
    }
}
