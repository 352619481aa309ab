import NIOCore
import PacerHTTP
import PacerJSON
import Testing

/// Reading only the members Pacer needs still tells a whole body from a cut-off one (issue 12).
@Suite struct JSONSkimTests {
    static let body = #"""
        {"id":"resp_1","object":"response","output":[{"type":"message","content":[{"type":"output_text","text":"a \"quoted\" \\ word \u00e9 ✓","annotations":[]}]},{"n":-1.5e+3,"t":true,"f":false,"z":null}],
         "model":"gpt-4o-mini","usage":{"input_tokens":12,"output_tokens":7,"total_tokens":19},"extra":{"deep":[[[{}]]]}}
        """#

    @Test func keptMembersEqualAFullParseAndTheAnswerArrayIsCounted() throws {
        let skim = try JSONSkim.object(
            in: ByteBuffer(string: Self.body),
            keeping: ["model", "usage"],
            counting: "output"
        )
        let full = try JSONValue(parsing: Self.body)
        #expect(skim.members["model"] == full["model"] && skim.members["usage"] == full["usage"])
        #expect(skim.members.count == 2)
        #expect(skim.count == 2)
    }

    @Test func aMissingOrNonArrayMemberIsNotCounted() throws {
        let missing = try JSONSkim.object(in: ByteBuffer(string: #"{"a":1}"#), keeping: [], counting: "data")
        #expect(missing.count == nil)
        let object = try JSONSkim.object(in: ByteBuffer(string: #"{"data":{"x":[1]}}"#), keeping: [], counting: "data")
        #expect(object.count == nil)
        let empty = try JSONSkim.object(in: ByteBuffer(string: #" { "data" : [ ] } "#), keeping: [], counting: "data")
        #expect(empty.count == 0)
    }

    /// Keys are compared by their bytes: a key with escapes is decoded first, and a key
    /// that only starts like a kept one is skipped.
    @Test func keysAreMatchedWholeAndWithTheirEscapesDecoded() throws {
        let body = #"{"mode":1,"models":2,"mo\u0064el":"m","u\"sage":{"a":1},"dat":[1],"data":[1,2,3]}"#
        let skim = try JSONSkim.object(in: ByteBuffer(string: body), keeping: ["model", "u\"sage"], counting: "data")
        #expect(skim.members == ["model": .string("m"), "u\"sage": .object(["a": .number(JSONNumber(1))])])
        #expect(skim.count == 3)
    }

    @Test func everyCutOffPrefixIsRefused() {
        let bytes = Array(Self.body.utf8)
        for length in 0..<bytes.count {
            let prefix = ByteBuffer(bytes: bytes[0..<length])
            #expect(throws: JSONParseError.self, "a body cut at \(length) bytes") {
                try JSONSkim.object(in: prefix, keeping: ["model"], counting: "output")
            }
        }
    }

    @Test(arguments: [
        #"[1,2]"#, #"{"a":1} x"#, #"{"a":"\q"}"#, #"{"a":"\u12"}"#, #"{"a":tru}"#, #"{"a":01}"#, #"{"a":1,}"#,
        "{\"a\":\"line\nbreak\"}", #"{"a" 1}"#, #"<html>502</html>"#,
    ])
    func malformedBodiesAreRefused(body: String) {
        #expect(throws: JSONParseError.self) {
            try JSONSkim.object(in: ByteBuffer(string: body), keeping: ["a"], counting: "b")
        }
    }

    /// Numbers are skipped eight digits at a time: every length around the eight-byte steps,
    /// with what may follow a digit run, is accepted exactly when JSON's number grammar
    /// (written here as a regular expression) accepts it, by the skim and the full parser.
    @Test func skippedNumbersFollowJSONsGrammarAtEveryLength() throws {
        let grammar = /-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/
        let runs = [1, 2, 7, 8, 9, 15, 16, 17, 24].map { String(repeating: "7", count: $0 - 1) + "3" }
        var tokens: [String] = []
        for sign in ["", "-"] {
            for whole in ["0", "01", "00"] + runs {
                for fraction in ["", ".", ".5", "." + runs[6], ".:", "./"] {
                    for exponent in ["", "e", "E+", "e-7", "E" + runs[7], "e+:"] {
                        tokens.append(sign + whole + fraction + exponent)
                    }
                }
            }
        }
        tokens += ["-", "+1", "1:", "1/", "9\u{7F}", "12345678é", "1234567:", ".5", "1.5E"]
        for token in tokens {
            let valid = token.wholeMatch(of: grammar) != nil
            let body = ByteBuffer(string: #"{"data":[1,"# + token + "]}")
            let skimmed = (try? JSONSkim.object(in: body, keeping: [], counting: "data")) != nil
            #expect(skimmed == valid, "skim of \(token)")
            let parsed = try? JSONValue(parsing: "[" + token + "]")
            #expect((parsed != nil) == valid, "parse of \(token)")
            if valid { #expect(parsed == .array([.number(JSONNumber(checked: token))]), "text of \(token)") }
        }
    }
}
