import PacerHTTP
import PacerJSON
import Testing

/// `String(utf8Bytes:)`: ASCII on the fast path, anything else validated, invalid UTF-8 refused.
@Suite struct UTF8TextTests {
    @Test(arguments: [
        "", "a", "exactly8", "longer than eight bytes of ASCII text", "é", "ascii then é at the end of it",
        "日本語のテキスト", "emoji 🙂 in the middle of ASCII",
    ])
    func validTextReadsBackAsItself(_ text: String) {
        let bytes = Array(text.utf8)
        #expect(bytes.withUnsafeBufferPointer { String(utf8Bytes: $0) } == text)
        #expect(String(utf8Bytes: bytes[...]) == text)
    }

    @Test(
        arguments: [
            [0xFF], [0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0xC3], [0xED, 0xA0, 0x80],
            [0xF0, 0x9F, 0x98, 0x61], Array("eight ok".utf8) + [0x80],
        ] as [[UInt8]]
    )
    func invalidUTF8IsRefused(_ bytes: [UInt8]) {
        #expect(bytes.withUnsafeBufferPointer { String(utf8Bytes: $0) } == nil)
    }
}
