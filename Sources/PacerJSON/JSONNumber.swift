/// A JSON number, kept as its exact source text.
///
/// A number read from an input line or a response body is written back byte for byte:
/// `1512345678901234567` stays `1512345678901234567` (a `Double` would make it
/// `1.5123456789012346e+18`), and `1e300` stays `1e300`. Conversions are exact or `nil`:
/// ``int`` is the integer the text denotes only when an `Int` holds it exactly, and ``double``
/// is the correctly rounded `Double` only when it is finite.
///
/// Two numbers are equal when their texts are: `1` and `1.0` are different values here, as
/// they are different bytes in the output.
public struct JSONNumber: Sendable, Hashable, CustomStringConvertible, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral
{
    /// The number's JSON text, e.g. `42`, `-0.5`, `1512345678901234567`, `1e300`.
    public let text: String

    /// Wraps text the parser has already checked against JSON's number grammar.
    init(validText text: String) {
        self.text = text
    }

    /// Creates a number from JSON number text; `nil` unless `text` follows RFC 8259's grammar
    /// (`-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`).
    public init?(text: String) {
        guard Self.isValid(text) else { return nil }
        self.text = text
    }

    /// The number `value`, written in decimal digits.
    public init(_ value: some BinaryInteger) {
        text = String(value)
    }

    /// The number `value`: integral values below 2^53 without a fraction (`3`, not `3.0`),
    /// others in Swift's shortest form that reads back to the same `Double`; `nil` for
    /// infinity and NaN, which JSON cannot hold.
    public init?(_ value: Double) {
        guard value.isFinite else { return nil }
        text = Self.text(of: value)
    }

    /// An integer literal, e.g. `.number(3)`.
    public init(integerLiteral value: Int) {
        self.init(value)
    }

    /// A floating-point literal, e.g. `.number(0.5)`.
    public init(floatLiteral value: Double) {
        // A literal is finite.
        text = Self.text(of: value)
    }

    /// The text of a finite `value`: integral values below 2^53 as digits, others in Swift's
    /// shortest round-tripping form (`0.1`, `1e+300`).
    private static func text(of value: Double) -> String {
        value.rounded() == value && abs(value) < 9_007_199_254_740_992 ? String(Int64(value)) : value.description
    }

    /// The text.
    public var description: String { text }

    /// The nearest `Double` (correctly rounded), or `nil` when the number is beyond `Double`'s
    /// range (`1e400`).
    public var double: Double? {
        guard let value = Double(text), value.isFinite else { return nil }
        return value
    }

    /// The integer the text denotes, when it is one and an `Int` holds it exactly: `3`, `3.0`
    /// and `3e0` are 3; `3.5`, `1e19` (beyond `Int.max`) and `1e-3` are `nil`.
    public var int: Int? {
        // Most numbers read as an Int are short integer literals (token counts): read them
        // digit by digit, without splitting the text into its decimal parts.
        if let small = smallInteger { return small }
        let parts = DecimalParts(text)
        var digits = parts.digits
        var exponent = parts.exponent
        // Trailing zeros of the digits move into the exponent: 3.0 is 30e-1 is 3e0.
        while digits.count > 1, digits.last == UInt8(ascii: "0") {
            digits.removeLast()
            exponent += 1
        }
        if digits == [UInt8(ascii: "0")] { return 0 }
        // An Int has at most 19 digits; checking before padding keeps `1e999999999` cheap.
        guard exponent >= 0, digits.count + exponent <= 19 else { return nil }
        let magnitude = String(decoding: digits, as: UTF8.self) + String(repeating: "0", count: exponent)
        return Int(parts.isNegative ? "-" + magnitude : magnitude)
    }

    /// The value of an integer literal of at most 18 digits (which cannot overflow), else `nil`.
    private var smallInteger: Int? {
        var value = 0
        var digits = 0
        var isNegative = false
        for byte in text.utf8 {
            if byte == UInt8(ascii: "-"), digits == 0, !isNegative {
                isNegative = true
                continue
            }
            guard byte &- UInt8(ascii: "0") < 10, digits < 18 else { return nil }
            value = value * 10 + Int(byte &- UInt8(ascii: "0"))
            digits += 1
        }
        guard digits > 0 else { return nil }
        return isNegative ? -value : value
    }

    /// Whether the text is an integer literal: digits with an optional minus, no fraction and
    /// no exponent.
    public var isIntegerLiteral: Bool {
        !text.utf8.contains { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }
    }

    /// The text split into sign, significant digits and a power of ten: `-12.50e3` is
    /// `-, 1250, 1`.
    private struct DecimalParts {
        var isNegative = false
        /// The digits without leading zeros; `0` for zero.
        var digits: [UInt8] = []
        /// The value is `digits × 10^exponent`.
        var exponent = 0

        init(_ text: String) {
            var bytes = text.utf8[...]
            if bytes.first == UInt8(ascii: "-") {
                isNegative = true
                bytes = bytes.dropFirst()
            }
            var fractionDigits = 0
            var inFraction = false
            while let byte = bytes.first, byte != UInt8(ascii: "e"), byte != UInt8(ascii: "E") {
                bytes = bytes.dropFirst()
                if byte == UInt8(ascii: ".") {
                    inFraction = true
                    continue
                }
                if !(digits.isEmpty && byte == UInt8(ascii: "0")) { digits.append(byte) }
                if inFraction { fractionDigits += 1 }
            }
            var written = 0
            if !bytes.isEmpty {
                bytes = bytes.dropFirst()  // e
                let negative = bytes.first == UInt8(ascii: "-")
                if bytes.first == UInt8(ascii: "-") || bytes.first == UInt8(ascii: "+") { bytes = bytes.dropFirst() }
                for byte in bytes {
                    // Saturated: an exponent this large is beyond any Int's digits either way.
                    written = min(written * 10 + Int(byte &- UInt8(ascii: "0")), 1_000_000_000)
                }
                if negative { written = -written }
            }
            if digits.isEmpty { digits = [UInt8(ascii: "0")] }
            exponent = written - fractionDigits
        }
    }

    /// Whether `text` is a JSON number by RFC 8259's grammar.
    static func isValid(_ text: String) -> Bool {
        var bytes = Array(text.utf8)[...]
        func digits() -> Int {
            let count = bytes.prefix { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }.count
            bytes = bytes.dropFirst(count)
            return count
        }
        if bytes.first == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
        if bytes.first == UInt8(ascii: "0") {
            bytes = bytes.dropFirst()
        } else {
            guard let first = bytes.first, (UInt8(ascii: "1")...UInt8(ascii: "9")).contains(first) else { return false }
            _ = digits()
        }
        if bytes.first == UInt8(ascii: ".") {
            bytes = bytes.dropFirst()
            guard digits() > 0 else { return false }
        }
        if bytes.first == UInt8(ascii: "e") || bytes.first == UInt8(ascii: "E") {
            bytes = bytes.dropFirst()
            if bytes.first == UInt8(ascii: "+") || bytes.first == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
            guard digits() > 0 else { return false }
        }
        return bytes.isEmpty
    }
}
