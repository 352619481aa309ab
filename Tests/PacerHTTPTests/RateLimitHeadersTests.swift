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
}
