/// Why one item (or one attempt of it) failed.
///
/// `ItemError` is what the engine records for a failed attempt and what a failed item ends with.
/// Its ``kind`` is a stable string used in the JSONL output (`error.kind`); its ``message`` is
/// meant for a person and never contains a secret. ``isRetryable`` and ``retryAfter`` tell the
/// engine what to do next.
public struct ItemError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The class of a failure, as written in the output's `error.kind`.
    public struct Kind: Sendable, Hashable, CustomStringConvertible {
        /// The stable name, e.g. `"rate_limited"`.
        public let rawValue: String
        private init(_ rawValue: String) { self.rawValue = rawValue }

        /// The server said "too many requests" (HTTP 429) or a quota is exhausted.
        public static let rateLimited = Kind("rate_limited")
        /// The attempt took longer than the per-attempt timeout.
        public static let timeout = Kind("timeout")
        /// The server answered with a non-success HTTP status other than 429.
        public static let httpStatus = Kind("http_status")
        /// The connection could not be made, or broke.
        public static let network = Kind("network")
        /// The response arrived but could not be understood (truncated, not JSON, wrong shape).
        public static let invalidResponse = Kind("invalid_response")
        /// The item was cancelled before it finished.
        public static let cancelled = Kind("cancelled")
        /// The input for this item is unusable; retrying cannot help.
        public static let invalidInput = Kind("invalid_input")

        /// A one-line description for people.
        public var description: String { rawValue }
    }

    /// The class of the failure.
    public var kind: Kind
    /// The HTTP status, when the failure is an HTTP answer.
    public var status: Int?
    /// What went wrong, for a person. Never contains the API key.
    public var message: String
    /// Whether another attempt may succeed.
    public var isRetryable: Bool
    /// Whether the answer stopped before its end (a stream that ended without finishing): a
    /// server that serves one request at a time does that to a running stream when another
    /// request arrives, so with others in flight it is a sign of overload.
    public var endedEarly = false
    /// How long the server asked us to wait before trying again, if it said so.
    public var retryAfter: Duration?
    /// What the failed response said about the server's rate limits, if anything.
    public var rateLimit: RateLimitSnapshot?
    /// The body of the failed HTTP answer as JSON text on one line (the server's JSON, or its
    /// text as a JSON string), when the operation keeps it: OpenAI Batch API error lines carry it.
    public var responseBody: String?
    /// The server's `x-request-id` for the failed answer, when the operation keeps it.
    public var requestID: String?
    /// Whether the attempt's request went out. `false` for an attempt that ended before it was
    /// sent (a routed request stopped while it waited for a deployment, see ``notSent(_:)``):
    /// it does not count as a request.
    public var wasSent = true

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - kind: The class of the failure.
    ///   - status: The HTTP status, if any.
    ///   - message: A message for a person.
    ///   - isRetryable: Whether another attempt may succeed.
    ///   - retryAfter: The server's requested wait, if any.
    ///   - rateLimit: The server's rate-limit headers, if any.
    public init(
        kind: Kind,
        status: Int? = nil,
        message: String,
        isRetryable: Bool,
        retryAfter: Duration? = nil,
        rateLimit: RateLimitSnapshot? = nil
    ) {
        self.kind = kind
        self.status = status
        self.message = message
        self.isRetryable = isRetryable
        self.retryAfter = retryAfter
        self.rateLimit = rateLimit
    }

    /// An attempt that ended before its request was sent, because of `reason` (\"the batch is
    /// stopping\"): cancelled, not retryable, and not counted as a request.
    public static func notSent(_ reason: String) -> ItemError {
        var error = ItemError(kind: .cancelled, message: "not sent: \(reason)", isRetryable: false)
        error.wasSent = false
        return error
    }

    /// The error recorded when an attempt exceeds its timeout. Retryable.
    public static func timedOut(after timeout: Duration) -> ItemError {
        // To the millisecond: a timeout cut short by an item's deadline is not a round number.
        ItemError(
            kind: .timeout,
            message: "no response within \((timeout.pacerSeconds * 1000).rounded() / 1000)s",
            isRetryable: true
        )
    }

    /// The error recorded when an item is cancelled. Not retryable.
    public static let cancelled = ItemError(kind: .cancelled, message: "cancelled", isRetryable: false)

    /// Maps any error to an `ItemError`.
    ///
    /// An `ItemError` passes through unchanged, a `CancellationError` becomes ``cancelled``,
    /// and anything else becomes a non-retryable `invalid_response` carrying the error's description:
    /// an operation that wants retries for its own errors throws `ItemError`s.
    public init(classifying error: any Error) {
        switch error {
        case let error as ItemError:
            self = error
        case is CancellationError:
            self = .cancelled
        default:
            self.init(kind: .invalidResponse, message: String(describing: error), isRetryable: false)
        }
    }

    /// A one-line description for people.
    public var description: String {
        if let status { return "\(kind) (HTTP \(status)): \(message)" }
        return "\(kind): \(message)"
    }
}

extension Duration {
    /// The duration in seconds as a `Double`.
    package var pacerSeconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    /// Creates a duration from a number of seconds, to the nearest nanosecond, clamping
    /// negatives to zero.
    package static func pacerSeconds(_ value: Double) -> Duration {
        guard value.isFinite, value > 0 else { return .zero }
        return .nanoseconds(Int64((min(value, 9e9) * 1e9).rounded()))
    }
}
