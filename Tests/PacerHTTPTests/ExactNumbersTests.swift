import Foundation
import PacerHTTP
import PacerJSON
import Testing

/// Issue 9, defect 5: a number is written back with the text it was read with. (Only
/// `JSONValue(parsing:)` and `jsonText` here, so that the test also runs against 777de37,
/// where it fails: `1512345678901234567` came back as `1.5123456789012346e+18`, and `1e400`
/// was refused.)
@Suite struct ExactNumbersTests {
    @Test(arguments: [
        #"{"id":1512345678901234567}"#,
        #"[9007199254740993,9007199254740992,-9223372036854775809,123456789012345678901234567890]"#,
        #"{"a":1.0,"b":1E-7,"c":-0,"d":0.1000000000000000055511151231257827,"e":1e400,"f":3e2}"#,
    ])
    func numbersAreWrittenBackWithTheirExactText(text: String) throws {
        #expect(try JSONValue(parsing: text).jsonText == text)
    }

    @Test func integersThatADoubleConfusesStayDifferent() throws {
        #expect(try JSONValue(parsing: "9007199254740993") != JSONValue(parsing: "9007199254740992"))
    }
}
