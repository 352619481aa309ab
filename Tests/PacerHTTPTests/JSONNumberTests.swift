import PacerHTTP
import PacerJSON
import Testing

/// `JSONNumber`: a number's exact text, with conversions that are exact or `nil`.
@Suite struct JSONNumberTests {
    @Test(arguments: [
        ("0", 0), ("-0", 0), ("7", 7), ("-7", -7), ("7.0", 7), ("7e0", 7), ("3e2", 300), ("1.5e1", 15), ("100e-2", 1),
        ("0.0e5", 0), ("9223372036854775807", Int.max), ("-9223372036854775808", Int.min),
        ("9.223372036854775807e18", Int.max), ("999999999999999999", 999_999_999_999_999_999),
        ("-123456789012345678", -123_456_789_012_345_678), ("1000000000000000000", 1_000_000_000_000_000_000),
    ])
    func anIntegerOfAnySpellingIsReadExactly(text: String, expected: Int) {
        #expect(JSONNumber(checked: text).int == expected)
    }

    @Test(arguments: [
        "0.5", "1e-1", "7.000000000000000001", "1e19", "9223372036854775808", "-9223372036854775809", "1e300",
        "1e999999999999999999999", "12345678901234567890123", "1.5",
    ])
    func anythingElseIsNotAnInt(text: String) {
        #expect(JSONNumber(checked: text).int == nil)
    }

    @Test func doubleIsCorrectlyRoundedAndNilBeyondTheRange() {
        #expect(JSONNumber(checked: "0.1").double == 0.1)
        #expect(JSONNumber(checked: "1512345678901234567").double == 1.512345678901234567e18)
        #expect(JSONNumber(checked: "1e300").double == 1e300)
        #expect(JSONNumber(checked: "1e400").double == nil)
        #expect(JSONNumber(checked: "-1e400").double == nil)
    }

    @Test func textIsCheckedAgainstJSONsGrammar() {
        for valid in ["0", "-0", "12", "0.5", "1e5", "1E+5", "-1.25e-3"] {
            #expect(JSONNumber(text: valid)?.text == valid)
        }
        for invalid in ["", "-", "01", "1.", ".5", "1e", "+1", "1 ", "0x10", "NaN", "Infinity", "1_000"] {
            #expect(JSONNumber(text: invalid) == nil)
        }
    }

    @Test func numbersMadeFromSwiftValuesAreWrittenPlainly() {
        // `JSONNumber(3.0)` would be a literal; these are Doubles computed at run time.
        let values: [Double] = [3.0, 0.5, 1e300, -0.0, 1e16]
        #expect(values.map { JSONNumber($0)?.text } == ["3", "0.5", "1e+300", "0", "1e+16"])
        let literal: JSONNumber = 2.5
        #expect(literal.text == "2.5")
        #expect(JSONNumber(Double.infinity) == nil)
        #expect(JSONNumber(Double.nan) == nil)
        #expect(JSONNumber(UInt64.max).text == "18446744073709551615")
        #expect(JSONNumber(UInt64.max).int == nil)
    }
}
