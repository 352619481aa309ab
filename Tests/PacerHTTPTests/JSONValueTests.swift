import Foundation
import PacerCore
import PacerHTTP
import PacerJSON
import Testing

/// The hand-written JSON parser and writer: exact on valid text, an error (never a crash) on
/// anything else, agreeing with Foundation's parser, and round-tripping what it writes.
@Suite struct JSONValueTests {
    @Test(arguments: [
        (
            #"{"a": [1, -2.5, 3e2, true, false, null], "b": {"c": "d"}}"#,
            JSONValue.object([
                "a": .array([.number(1), .number(-2.5), .number(text: "3e2"), .bool(true), .bool(false), .null]),
                "b": .object(["c": .string("d")]),
            ])
        ),
        (#" "tab\tquote\"slash\/back\\u\u00e9\ud83d\ude42" "#, .string("tab\tquote\"slash/back\\ué🙂")),
        ("-0", .number(text: "-0")),
        ("0.1", .number(0.1)),
        ("123456789012345678901", .number(text: "123456789012345678901")),
        ("1E-7", .number(text: "1E-7")),
        ("1e999", .number(text: "1e999")),
        ("[]", .array([])),
        ("{}", .object([:])),
        (#""日本""#, .string("日本")),
        (#"{"k": 1, "k": 2}"#, .object(["k": .number(2)])),
    ])
    func validTextParses(text: String, expected: JSONValue) throws {
        #expect(try JSONValue(parsing: text) == expected)
    }

    @Test(arguments: [
        "", " ", "{", "[1,]", "[1 2]", #"{"a" 1}"#, #"{"a":1,}"#, "{1: 2}", "01", "1.", ".5", "-", "1e", "+1",
        "tru", "nul", "NaN", "Infinity", #""unterminated"#, "\"a\u{0001}b\"", #""\x""#, #""\u12""#,
        #""\ud83d""#, #""\ude42""#, #""\ud83dx""#, "{} {}", "[1] x", "'single'",
    ])
    func invalidTextIsAnError(text: String) {
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: text) }
    }

    @Test func invalidUTF8AndDeepNestingAreErrorsNotCrashes() {
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: Data([0x22, 0xFF, 0xFE, 0x22])) }
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: deep) }
        let allowed = String(repeating: "[", count: 500) + String(repeating: "]", count: 500)
        #expect((try? JSONValue(parsing: allowed)) != nil)
    }

    @Test func writingSortsKeysEscapesAndKeepsIntegersWhole() {
        let value = JSONValue.object([
            "z": .number(3), "a": .string("line\n\"q\" / \u{0001}"),
            "m": .array([.number(0.5), .null, .bool(true), .number(1e300)]),
        ])
        #expect(value.jsonText == #"{"a":"line\n\"q\" / \u0001","m":[0.5,null,true,1e+300],"z":3}"#)
        var infinite: [UInt8] = []
        JSONValue.writeNumber(.infinity, to: &infinite)
        #expect(infinite == Array("null".utf8))
    }

    /// A random value: nested objects and arrays of strings with escapes and non-ASCII text,
    /// integers and fractions of every size.
    static func value(_ random: inout SplitMix64, depth: Int = 0) -> JSONValue {
        let pieces = ["a", "Z", " ", "\"", "\\", "/", "\n", "\t", "é", "日本", "🙂", "\u{0001}", "\u{007F}", "\u{2028}"]
        func text() -> String {
            (0..<Int(random.next() % 12)).map { _ in pieces[Int(random.next() % UInt64(pieces.count))] }.joined()
        }
        switch random.next() % (depth > 4 ? 4 : 6) {
        case 0: return .null
        case 1: return .bool(random.next() % 2 == 0)
        case 2:
            let magnitude = pow(10, Double(Int(random.next() % 40)) - 20)
            let number = Double(Int64(bitPattern: random.next()) % 1_000_000) * magnitude
            return .number(JSONNumber(random.next() % 2 == 0 ? number.rounded() : number) ?? 0)
        case 3: return .string(text())
        case 4: return .array((0..<Int(random.next() % 5)).map { _ in value(&random, depth: depth + 1) })
        default:
            var object: [String: JSONValue] = [:]
            for _ in 0..<Int(random.next() % 5) { object[text()] = value(&random, depth: depth + 1) }
            return .object(object)
        }
    }

    @Test(arguments: 0..<200)
    func writtenValuesParseBackAndFoundationAgrees(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        let value = Self.value(&random)
        let text = value.jsonText
        #expect(try JSONValue(parsing: text) == value, "\(text)")
        // A Decoder gives no number text: Foundation reads the same values, not the same digits.
        #expect(
            try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)).numbersAsDoubles == value.numbersAsDoubles,
            "\(text)"
        )
    }

    @Test(arguments: 0..<200)
    func mutatedTextIsParsedOrRefusedLikeFoundation(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        var bytes = Array(Self.value(&random).jsonText.utf8)
        let alphabet = Array("{}[]\":,\\ 0123456789.-eEtrufalsnu".utf8) + [0x00, 0x0A, 0xC3, 0xA9, 0xFF, 0xED, 0xA0]
        for _ in 0..<Int(random.next() % 4) where !bytes.isEmpty {
            let at = Int(random.next() % UInt64(bytes.count))
            switch random.next() % 3 {
            case 0: bytes[at] = alphabet[Int(random.next() % UInt64(alphabet.count))]
            case 1: bytes.remove(at: at)
            default: bytes.insert(alphabet[Int(random.next() % UInt64(alphabet.count))], at: at)
            }
        }
        let data = Data(bytes)
        let ours = try? JSONValue(parsing: data)
        let foundation = try? JSONDecoder().decode(JSONValue.self, from: data)
        // The one deliberate difference: a number beyond Double's range is kept, as text.
        if ours?.hasNumberBeyondDouble == true { return }
        #expect(ours?.numbersAsDoubles == foundation?.numbersAsDoubles, "\(String(decoding: bytes, as: UTF8.self))")
    }
}

extension JSONNumber {
    /// The number from text the test knows to be valid.
    init(checked text: String) {
        guard let number = JSONNumber(text: text) else {
            Issue.record("not a JSON number: \(text)")
            self = 0
            return
        }
        self = number
    }
}

extension JSONValue {
    /// A number from its text, e.g. `.number(text: "1e999")`.
    static func number(text: String) -> JSONValue { .number(JSONNumber(checked: text)) }

    /// The value with every number rewritten from its nearest Double (`null` beyond the range):
    /// what a reader that keeps no number text sees.
    var numbersAsDoubles: JSONValue {
        switch self {
        case .number(let number): number.double.flatMap(JSONNumber.init).map(JSONValue.number) ?? .null
        case .array(let values): .array(values.map(\.numbersAsDoubles))
        case .object(let object): .object(object.mapValues(\.numbersAsDoubles))
        default: self
        }
    }

    /// Whether some number is beyond Double's range (``numbersAsDoubles`` makes it `null`).
    var hasNumberBeyondDouble: Bool {
        switch self {
        case .number(let number): number.double == nil
        case .array(let values): values.contains(where: \.hasNumberBeyondDouble)
        case .object(let object): object.values.contains(where: \.hasNumberBeyondDouble)
        default: false
        }
    }
}
