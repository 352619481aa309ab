import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import PacerCore

/// Classifies HTTP answers and transport errors into retryable or permanent `ItemError`s.
///
/// Retryable: transient connection errors, timeouts, 408, 409, 429, 5xx, truncated bodies.
/// Permanent: every other 4xx, and transport errors that another attempt cannot fix (see
/// ``error(classifying:)``). An `x-should-retry` header overrides the status rule.
public enum HTTPFailure {
    /// Whether a status is worth retrying when the server gives no verdict.
    public static func isRetryable(status: Int) -> Bool {
        status == 408 || status == 409 || status == 429 || (500...599).contains(status)
    }

    /// The error for a non-2xx answer.
    ///
    /// - Parameters:
    ///   - status: The HTTP status.
    ///   - headers: The response headers (for `Retry-After` and `x-should-retry`).
    ///   - message: What the server said, already extracted from the body and free of secrets.
    ///   - now: The current date, for `Retry-After` HTTP-dates.
    public static func error(status: Int, headers: HTTPHeaders, message: String, now: Date = Date()) -> ItemError {
        let hints = RetryHeaders(headers: headers, now: now)
        return ItemError(
            kind: status == 429 ? .rateLimited : .httpStatus,
            status: status,
            message: message,
            isRetryable: hints.shouldRetry ?? isRetryable(status: status),
            retryAfter: hints.retryAfter,
            rateLimit: RateLimitHeaders.snapshot(from: headers)
        )
    }

    /// A short, printable excerpt of a response body for error messages.
    public static func excerpt(of body: ByteBuffer, limit: Int = 200) -> String {
        let text = String(decoding: body.readableBytesView.prefix(limit), as: UTF8.self)
        let oneLine = text.replacingOccurrences(of: "\n", with: " ").trimmingCharacters(in: .whitespaces)
        return body.readableBytes > limit ? oneLine + "…" : oneLine
    }

    /// The error for something thrown while sending a request or reading its answer.
    ///
    /// Only transient failures are retryable: a refused, reset or early-closed connection, a
    /// connect, read or write timeout, a temporary DNS failure. Everything else — an untrusted
    /// certificate, an invalid header, an unsupported scheme, too many redirects, an error this
    /// classification does not know — is permanent, because sending it again cannot succeed.
    /// A connect timeout is a `ItemError/Kind-swift.struct/network` error, so that it counts
    /// as a connection failure.
    public static func error(classifying error: any Error) -> ItemError {
        self.error(classifying: error, context: Context(url: nil))
    }
}
