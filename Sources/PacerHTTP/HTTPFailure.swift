import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import PacerCore

/// Classifies HTTP answers and transport errors into retryable or permanent ``ItemError``s.
///
/// Retryable: connection errors, timeouts, 408, 409, 429, 5xx, truncated bodies.
/// Permanent: every other 4xx. An `x-should-retry` header overrides the status rule.
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
    public static func error(classifying error: any Error) -> ItemError {
        switch error {
        case let error as ItemError:
            return error
        case is CancellationError:
            return .cancelled
        case let error as HTTPClientError:
            return classify(error)
        case is NIOTooManyBytesError, is ResponseAccumulator.ResponseTooBigError:
            return ItemError(kind: .invalidResponse, message: "response body too large", isRetryable: false)
        default:
            // Connection refused, reset, DNS failures and the like: the network may recover.
            return ItemError(kind: .network, message: String(describing: error), isRetryable: true)
        }
    }

    private static func classify(_ error: HTTPClientError) -> ItemError {
        switch error {
        case .readTimeout, .writeTimeout, .connectTimeout, .deadlineExceeded, .tlsHandshakeTimeout,
            .getConnectionFromPoolTimeout:
            return ItemError(kind: .timeout, message: error.shortDescription, isRetryable: true)
        case .remoteConnectionClosed, .uncleanShutdown, .bodyLengthMismatch:
            return ItemError(
                kind: .network,
                message: "connection closed before the response was complete (\(error.shortDescription))",
                isRetryable: true
            )
        case .cancelled:
            return .cancelled
        case .invalidURL, .emptyHost, .emptyScheme, .alreadyShutdown:
            return ItemError(kind: .invalidInput, message: error.shortDescription, isRetryable: false)
        default:
            if String(describing: error).contains("unsupportedScheme") {
                return ItemError(kind: .invalidInput, message: error.shortDescription, isRetryable: false)
            }
            return ItemError(kind: .network, message: error.shortDescription, isRetryable: true)
        }
    }
}
