import Foundation
import NIOHTTP1
import PacerCore

/// Reads rate-limit headers into a `RateLimitSnapshot`: OpenAI's `x-ratelimit-*` (also sent
/// by Azure, Groq and most compatible servers), Together's unsuffixed `x-ratelimit-limit` /
/// `-remaining` / `-reset` (requests; the reset in seconds), and Anthropic's
/// `anthropic-ratelimit-*` where a gateway forwards them.
///
/// Values that are missing, negative or unparseable are left unknown, never read as zero
/// capacity (Azure has sent `-1` and `0`): a limit of 0 is unknown, and a remaining count of
/// 0 counts only together with a reset time.
///
/// A requests limit whose bucket takes longer than a minute to refill is not per minute:
/// Groq's `x-ratelimit-limit-requests` is requests per *day* (its docs' example: limit 14400,
/// remaining 14370, reset `2m59.56s`). A per-minute bucket refills within 60 s, so such a
/// limit is left unknown rather than paced at as RPM; the server's 429s and `retry-after`
/// still hold the run to it.
public enum RateLimitHeaders {
    /// The snapshot the headers describe; empty when they say nothing.
    ///
    /// - Parameters:
    ///   - headers: A response's headers.
    ///   - now: The time Anthropic's reset timestamps are measured from.
    public static func snapshot(from headers: HTTPHeaders, now: Date = Date()) -> RateLimitSnapshot {
        func count(_ name: String) -> Int? {
            headers.first(name: name).flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }.flatMap {
                $0 >= 0 ? $0 : nil
            }
        }
        func reset(_ name: String) -> Duration? {
            headers.first(name: name).flatMap(parseDuration)
        }
        /// Anthropic's resets are RFC 3339 timestamps.
        func resetAt(_ name: String) -> Duration? {
            guard let text = headers.first(name: name), let date = try? Date(text, strategy: .iso8601) else {
                return nil
            }
            return .pacerSeconds(max(0, date.timeIntervalSince(now)))
        }
        var snapshot = RateLimitSnapshot(
            requestLimit: count("x-ratelimit-limit-requests").flatMap { $0 > 0 ? $0 : nil },
            tokenLimit: count("x-ratelimit-limit-tokens").flatMap { $0 > 0 ? $0 : nil },
            remainingRequests: count("x-ratelimit-remaining-requests"),
            remainingTokens: count("x-ratelimit-remaining-tokens"),
            resetRequests: reset("x-ratelimit-reset-requests"),
            resetTokens: reset("x-ratelimit-reset-tokens")
        )
        if snapshot.requestLimit == nil, let limit = count("x-ratelimit-limit"), limit > 0 {
            // Together's unsuffixed headers: requests, the reset in seconds ("1" or "1s").
            snapshot.requestLimit = limit
            snapshot.remainingRequests = count("x-ratelimit-remaining")
            snapshot.resetRequests = headers.first(name: "x-ratelimit-reset").flatMap { raw in
                Double(raw.trimmingCharacters(in: .whitespaces)).flatMap {
                    $0 >= 0 && $0.isFinite ? .pacerSeconds($0) : nil
                }
                    ?? parseDuration(raw)
            }
        }
        if snapshot.requestLimit == nil, let limit = count("anthropic-ratelimit-requests-limit"), limit > 0 {
            snapshot.requestLimit = limit
            snapshot.remainingRequests = count("anthropic-ratelimit-requests-remaining")
            snapshot.resetRequests = resetAt("anthropic-ratelimit-requests-reset")
        }
        if snapshot.tokenLimit == nil, let limit = count("anthropic-ratelimit-tokens-limit"), limit > 0 {
            snapshot.tokenLimit = limit
            snapshot.remainingTokens = count("anthropic-ratelimit-tokens-remaining")
            snapshot.resetTokens = resetAt("anthropic-ratelimit-tokens-reset")
        }
        if let reset = snapshot.resetRequests, reset > .seconds(60) {
            // A bucket that takes over a minute to refill is not a per-minute limit (Groq's RPD).
            snapshot.requestLimit = nil
            snapshot.remainingRequests = nil
            snapshot.resetRequests = nil
        }
        if snapshot.remainingRequests == 0, snapshot.resetRequests == nil { snapshot.remainingRequests = nil }
        if snapshot.remainingTokens == 0, snapshot.resetTokens == nil { snapshot.remainingTokens = nil }
        return snapshot
    }

    /// Parses OpenAI's duration format: `1s`, `6m0s`, `120ms`, `1h2m3.5s`, `0.5s`.
    ///
    /// Returns `nil` for anything else (empty, negative, unknown units, trailing garbage).
    public static func parseDuration(_ raw: String) -> Duration? {
        let text = Array(raw.trimmingCharacters(in: .whitespaces).utf8)
        guard !text.isEmpty else { return nil }
        var seconds = 0.0
        var index = 0
        while index < text.count {
            let numberStart = index
            while index < text.count,
                text[index] == UInt8(ascii: ".") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(text[index])
            {
                index += 1
            }
            guard index > numberStart, let value = Double(String(decoding: text[numberStart..<index], as: UTF8.self))
            else {
                return nil
            }
            let unitStart = index
            while index < text.count,
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(text[index]) || text[index] >= 0x80
            {
                index += 1
            }
            switch String(decoding: text[unitStart..<index], as: UTF8.self) {
            case "h": seconds += value * 3600
            case "m": seconds += value * 60
            case "s": seconds += value
            case "ms": seconds += value / 1000
            case "us", "µs": seconds += value / 1_000_000
            case "ns": seconds += value / 1_000_000_000
            default: return nil
            }
        }
        return seconds.isFinite ? .pacerSeconds(seconds) : nil
    }
}
