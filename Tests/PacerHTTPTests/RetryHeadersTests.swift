import Foundation
import NIOHTTP1
import PacerCore
import PacerHTTP
import Testing

@Suite struct RetryHeadersTests {
    static let now = Date(timeIntervalSince1970: 1_700_000_000)

    struct Case: Sendable, CustomStringConvertible {
        var ms: String?
        var after: String?
        var expected: Duration?
        var description: String { "ms=\(ms ?? "-") after=\(after ?? "-")" }
    }

    @Test(arguments: [
        Case(ms: "1500", after: nil, expected: .milliseconds(1500)),
        Case(ms: nil, after: "2", expected: .seconds(2)),
        Case(ms: nil, after: "0.5", expected: .milliseconds(500)),
        Case(ms: "250", after: "30", expected: .milliseconds(250)),  // retry-after-ms first
        Case(ms: nil, after: "Tue, 14 Nov 2023 22:13:30 GMT", expected: .seconds(10)),  // HTTP-date, 10 s ahead
        Case(ms: nil, after: "Tue, 14 Nov 2023 22:13:00 GMT", expected: .zero),  // in the past: no wait
        Case(ms: "-1", after: nil, expected: nil),  // negative: unknown, never zero capacity
        Case(ms: "soon", after: "later", expected: nil),  // garbage is ignored
        Case(ms: "garbage", after: "3", expected: .seconds(3)),  // a bad ms falls back to seconds
        Case(ms: nil, after: "-5", expected: nil),
        Case(ms: nil, after: nil, expected: nil),
    ])
    func retryAfterPrecedenceAndParsing(_ test: Case) {
        let hints = RetryHeaders(
            retryAfterMilliseconds: test.ms,
            retryAfter: test.after,
            shouldRetry: nil,
            now: Self.now
        )
        #expect(hints.retryAfter == test.expected)
    }

    @Test func shouldRetryHeaderOverridesTheStatusRule() {
        var headers = HTTPHeaders([("x-should-retry", "false")])
        #expect(HTTPFailure.error(status: 503, headers: headers, message: "x").isRetryable == false)
        headers = HTTPHeaders([("x-should-retry", "true")])
        #expect(HTTPFailure.error(status: 400, headers: headers, message: "x").isRetryable == true)
        headers = HTTPHeaders([("x-should-retry", "maybe")])
        #expect(HTTPFailure.error(status: 400, headers: headers, message: "x").isRetryable == false)
    }

    @Test(arguments: [
        (408, true), (409, true), (429, true), (500, true), (502, true), (503, true), (599, true),
        (400, false), (401, false), (403, false), (404, false), (422, false),
    ])
    func statusClassification(status: Int, retryable: Bool) {
        let error = HTTPFailure.error(status: status, headers: [:], message: "m")
        #expect(error.isRetryable == retryable)
        #expect(error.kind == (status == 429 ? .rateLimited : .httpStatus))
        #expect(error.status == status)
    }

    @Test func redactorRemovesEverySecretOccurrence() {
        let redactor = Redactor(secrets: ["sk-test-1234567890"])
        #expect(
            redactor.redact("key sk-test-1234567890 and again sk-test-1234567890")
                == "key [REDACTED] and again [REDACTED]"
        )
    }
}
