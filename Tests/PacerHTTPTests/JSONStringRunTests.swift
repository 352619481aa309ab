import NIOCore
import PacerHTTP
import PacerJSON
import Testing

/// Strings are scanned eight bytes at a time: a quote, a backslash or a control character
/// ends a string's plain run at any offset, in strings of every length around the eight-byte
/// steps, whether the string is built (the tree parser, a kept member) or skipped (the skim,
/// the pull reader).
@Suite struct JSONStringRunTests {
    /// `length` plain bytes with `inserted` in place of the byte at `offset`.
    static func content(length: Int, offset: Int, inserted: String) -> [UInt8] {
        var bytes = Array(repeating: UInt8(ascii: "a"), count: length)
        bytes.replaceSubrange(offset..<(offset + 1), with: Array(inserted.utf8))
        return bytes
    }

    /// What each reader makes of the string `"content"`: the tree parser's value, the skim's
    /// kept member and whether the skim and the reader skip it, each as the value or the error.
    static func readings(of content: [UInt8]) -> [Result<JSONValue?, JSONParseError>] {
        let string = ByteBuffer(bytes: [UInt8(ascii: "\"")] + content + [UInt8(ascii: "\"")])
        let object = ByteBuffer(bytes: Array(#"{"k":""#.utf8) + content + Array(#""}"#.utf8))
        return [
            Result { () throws(JSONParseError) in try JSONValue(parsing: string) },
            Result { () throws(JSONParseError) in try JSONSkim.object(in: object, keeping: ["k"]).members["k"] },
            Result { () throws(JSONParseError) in try JSONSkim.object(in: object, keeping: []).members["k"] },
            Result { () throws(JSONParseError) in
                try JSONReader.read(object) { (reader: inout JSONReader) throws(JSONParseError) in
                    try reader.members { (reader: inout JSONReader, _: String) throws(JSONParseError) in
                        try reader.skip()
                    }
                }
                return nil
            },
        ]
    }

    @Test func plainBytesEscapesAndControlCharactersAreFoundAtEveryOffset() {
        for length in 1...26 {
            for offset in 0..<length {
                // Bytes beside the ones that end a run, and non-ASCII text, stay in it.
                for plain in [" ", "!", "#", "[", "]", "\u{7F}", "é", "🙂"] {
                    let bytes = Self.content(length: length, offset: offset, inserted: plain)
                    let text = JSONValue.string(String(decoding: bytes, as: UTF8.self))
                    #expect(Self.readings(of: bytes) == [.success(text), .success(text), .success(nil), .success(nil)])
                }
                let escaped = Self.content(length: length, offset: offset, inserted: #"\""#)
                let unescaped = JSONValue.string(
                    String(decoding: Self.content(length: length, offset: offset, inserted: "\""), as: UTF8.self)
                )
                #expect(
                    Self.readings(of: escaped) == [
                        .success(unescaped), .success(unescaped), .success(nil), .success(nil),
                    ]
                )
                // A control character is refused where it is: 1 byte into the string, 6 into the object.
                for control in ["\u{0}", "\n", "\u{1F}"] {
                    let message = "unescaped control character in a string"
                    let inString = JSONParseError(message: message, offset: 1 + offset)
                    let inObject = JSONParseError(message: message, offset: 6 + offset)
                    #expect(
                        Self.readings(of: Self.content(length: length, offset: offset, inserted: control))
                            == [.failure(inString), .failure(inObject), .failure(inObject), .failure(inObject)]
                    )
                }
            }
        }
    }
}
