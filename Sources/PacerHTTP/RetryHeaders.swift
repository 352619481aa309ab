import Foundation
import NIOHTTP1
import PacerCore

/// What a response's headers say about retrying: `retry-after-ms`, `retry-after` and
/// `x-should-retry`, as OpenAI's official clients read them.
///
/// Values that are missing, negative or unparseable mean "not said", never "zero".
public struct RetryHeaders: Sendable, Hashable {
    /// The wait the server asked for, if it gave a usable one.
    public var retryAfter: Duration?
    /// The server's explicit verdict on retrying (`x-should-retry: true|false`), if given.
    public var shouldRetry: Bool?

    /// Creates a value directly.
    public init(retryAfter: Duration? = nil, shouldRetry: Bool? = nil) {
        self.retryAfter = retryAfter
        self.shouldRetry = shouldRetry
    }

    /// Reads the headers.
    ///
    /// Precedence: `retry-after-ms`, then `retry-after` in seconds, then `retry-after` as an
    /// HTTP-date (relative to `now`; a date in the past means no wait).
    public init(headers: HTTPHeaders, now: Date = Date()) {
        self.init(
            retryAfterMilliseconds: headers.first(name: "retry-after-ms"),
            retryAfter: headers.first(name: "retry-after"),
            shouldRetry: headers.first(name: "x-should-retry"),
            now: now
        )
    }

    /// Reads raw header values; see ``init(headers:now:)``.
    public init(retryAfterMilliseconds: String?, retryAfter: String?, shouldRetry: String?, now: Date) {
        if let ms = retryAfterMilliseconds.flatMap(Self.nonNegativeNumber) {
            self.retryAfter = .pacerSeconds(ms / 1000)
        } else if let raw = retryAfter {
            if let seconds = Self.nonNegativeNumber(raw) {
                self.retryAfter = .pacerSeconds(seconds)
            } else if let date = Self.httpDate(raw) {
                self.retryAfter = .pacerSeconds(max(0, date.timeIntervalSince(now)))
            }
        }
        switch shouldRetry?.trimmingCharacters(in: .whitespaces).lowercased() {
        case "true": self.shouldRetry = true
        case "false": self.shouldRetry = false
        default: self.shouldRetry = nil
        }
    }

    static func nonNegativeNumber(_ raw: String) -> Double? {
        guard let value = Double(raw.trimmingCharacters(in: .whitespaces)), value.isFinite, value >= 0 else {
            return nil
        }
        return value
    }

    /// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the form RFC 9110 requires senders to use.
    static func httpDate(_ raw: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: raw.trimmingCharacters(in: .whitespaces))
    }
}
