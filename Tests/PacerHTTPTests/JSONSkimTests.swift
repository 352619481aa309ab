import NIOCore
import PacerHTTP
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
}
