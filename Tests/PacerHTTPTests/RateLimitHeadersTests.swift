import Foundation
import NIOHTTP1
import PacerCore
import PacerHTTP
import Testing

@Suite struct RateLimitHeadersTests {
    @Test(arguments: [
        ("1s", 1.0), ("6m0s", 360.0), ("120ms", 0.12), ("1h2m3.5s", 3723.5), ("0.5s", 0.5),
        ("2m59.56s", 179.56), ("20ms", 0.02), (" 3s ", 3.0), ("0s", 0.0), ("1us", 0.000001),
    ])
    func openAIDurationsParse(raw: String, seconds: Double) throws {
        let parsed = try #require(RateLimitHeaders.parseDuration(raw))
        #expect(abs(parsed.pacerSeconds - seconds) < 1e-9)
    }

    @Test(arguments: ["", "s", "-1s", "1", "1x", "soon", "1s2", "1.2.3s", "NaNs", "∞s", "1 s"])
    func garbageDurationsAreUnknownNotFatal(raw: String) {
        #expect(RateLimitHeaders.parseDuration(raw) == nil)
    }

    @Test func allSixHeadersAreRead() {
        let headers = HTTPHeaders([
            ("x-ratelimit-limit-requests", "600"), ("x-ratelimit-limit-tokens", "150000"),
            ("x-ratelimit-remaining-requests", "599"), ("x-ratelimit-remaining-tokens", "149500"),
            ("x-ratelimit-reset-requests", "100ms"), ("x-ratelimit-reset-tokens", "200ms"),
        ])
        #expect(
            RateLimitHeaders.snapshot(from: headers)
                == RateLimitSnapshot(
                    requestLimit: 600,
                    tokenLimit: 150_000,
                    remainingRequests: 599,
                    remainingTokens: 149_500,
                    resetRequests: .milliseconds(100),
                    resetTokens: .milliseconds(200)
                )
        )
    }

    @Test func negativeZeroOrGarbageValuesAreUnknownNeverZeroCapacity() {
        // Azure has sent -1 and 0.
        let headers = HTTPHeaders([
            ("x-ratelimit-limit-requests", "0"), ("x-ratelimit-limit-tokens", "-1"),
            ("x-ratelimit-remaining-requests", "0"), ("x-ratelimit-remaining-tokens", "lots"),
            ("x-ratelimit-reset-requests", "-5s"),
        ])
        #expect(RateLimitHeaders.snapshot(from: headers).isEmpty)
        // A zero remaining with a reset time is real: the budget is spent until then.
        let spent = HTTPHeaders([("x-ratelimit-remaining-requests", "0"), ("x-ratelimit-reset-requests", "2s")])
        #expect(RateLimitHeaders.snapshot(from: spent).remainingRequests == 0)
    }

    /// Groq's documented example: its requests limit is per day, its tokens limit per minute.
    @Test func groqsDailyRequestLimitIsNotReadAsPerMinute() {
        var headers = HTTPHeaders()
        headers.add(name: "retry-after", value: "2")
        headers.add(name: "x-ratelimit-limit-requests", value: "14400")
        headers.add(name: "x-ratelimit-limit-tokens", value: "18000")
        headers.add(name: "x-ratelimit-remaining-requests", value: "14370")
        headers.add(name: "x-ratelimit-remaining-tokens", value: "17997")
        headers.add(name: "x-ratelimit-reset-requests", value: "2m59.56s")
        headers.add(name: "x-ratelimit-reset-tokens", value: "7.66s")
        let snapshot = RateLimitHeaders.snapshot(from: headers)
        #expect(snapshot.requestLimit == nil && snapshot.remainingRequests == nil)
        #expect(snapshot.tokenLimit == 18000 && snapshot.remainingTokens == 17997)
        #expect(snapshot.resetTokens == .milliseconds(7660))
    }

    /// OpenAI's documented example keeps both limits: its requests reset within the minute.
    @Test func openAIsExampleKeepsItsRequestsPerMinute() {
        var headers = HTTPHeaders()
        headers.add(name: "x-ratelimit-limit-requests", value: "60")
        headers.add(name: "x-ratelimit-limit-tokens", value: "150000")
        headers.add(name: "x-ratelimit-remaining-requests", value: "59")
        headers.add(name: "x-ratelimit-remaining-tokens", value: "149984")
        headers.add(name: "x-ratelimit-reset-requests", value: "1s")
        headers.add(name: "x-ratelimit-reset-tokens", value: "6m0s")
        let snapshot = RateLimitHeaders.snapshot(from: headers)
        #expect(snapshot.requestLimit == 60 && snapshot.tokenLimit == 150_000 && snapshot.resetTokens == .seconds(360))
    }

    /// Anthropic's headers, as a gateway forwards them: limits per minute, resets as RFC 3339
    /// timestamps.
    @Test func anthropicsHeadersAreRead() throws {
        let now = try Date("2024-04-01T00:00:00Z", strategy: .iso8601)
        var headers = HTTPHeaders()
        headers.add(name: "anthropic-ratelimit-requests-limit", value: "50")
        headers.add(name: "anthropic-ratelimit-requests-remaining", value: "49")
        headers.add(name: "anthropic-ratelimit-requests-reset", value: "2024-04-01T00:00:01Z")
        headers.add(name: "anthropic-ratelimit-tokens-limit", value: "40000")
        headers.add(name: "anthropic-ratelimit-tokens-remaining", value: "39000")
        headers.add(name: "anthropic-ratelimit-tokens-reset", value: "2024-04-01T00:00:02Z")
        let snapshot = RateLimitHeaders.snapshot(from: headers, now: now)
        #expect(
            snapshot.requestLimit == 50 && snapshot.remainingRequests == 49 && snapshot.resetRequests == .seconds(1)
        )
        #expect(
            snapshot.tokenLimit == 40000 && snapshot.remainingTokens == 39000 && snapshot.resetTokens == .seconds(2)
        )
    }

    /// Together's headers as its docs name them: requests limit, remaining, and the time until
    /// the limit resets in seconds.
    @Test func togethersUnsuffixedHeadersAreRequests() {
        var headers = HTTPHeaders()
        headers.add(name: "x-ratelimit-limit", value: "600")
        headers.add(name: "x-ratelimit-remaining", value: "598")
        headers.add(name: "x-ratelimit-reset", value: "0.2")
        let snapshot = RateLimitHeaders.snapshot(from: headers)
        #expect(snapshot.requestLimit == 600 && snapshot.remainingRequests == 598)
        #expect(snapshot.resetRequests == .milliseconds(200) && snapshot.tokenLimit == nil)
        // OpenAI's suffixed names win where a server sends both.
        headers.add(name: "x-ratelimit-limit-requests", value: "500")
        #expect(RateLimitHeaders.snapshot(from: headers).requestLimit == 500)
    }
}
