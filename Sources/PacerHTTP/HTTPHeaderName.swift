/// Header field names and values as RFC 9110 allows them, checked before a request is built.
///
/// A name is a `token`: one or more letters, digits and ``allowedSymbols`` — no spaces, no colon.
/// A value may hold any visible character, spaces and tabs, but no other control character
/// (a CR or LF would end the header early).
///
/// ```swift
/// HTTPHeaderName.isValid("X-Api-Key")  // true
/// HTTPHeaderName.isValid("X Api")      // false: a space
/// ```
public enum HTTPHeaderName {
    /// The characters a name may hold besides ASCII letters and digits.
    public static let allowedSymbols = "!#$%&'*+-.^_`|~"

    /// Whether `name` is a valid header field name (an RFC 9110 `token`).
    public static func isValid(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy(isTokenByte)
    }

    /// Whether `value` may be sent as a header field value: no control character but tab.
    public static func isValidValue(_ value: String) -> Bool {
        value.utf8.allSatisfy { $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }
    }

    private static let symbolBytes = Set(allowedSymbols.utf8)

    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return symbolBytes.contains(byte)
        }
    }
}
