/// How a request that held a booking on a ``Quota`` ended: what the quota learns from it.
///
/// A struct over a private choice, so that new outcomes can be added without breaking callers.
public struct QuotaOutcome: Sendable, Hashable {
    enum Kind: Sendable, Hashable {
        case answered(usedTokens: Int?, rateLimit: RateLimitSnapshot?)
        case connectionFailed
        case noAnswer
        case notSent
    }

    let kind: Kind

    /// The server answered, with any status. `usedTokens` is what it counted (`nil` when it
    /// counted none, e.g. an error: the booking is refunded); `rateLimit` is what its headers
    /// said.
    public static func answered(usedTokens: Int?, rateLimit: RateLimitSnapshot?) -> QuotaOutcome {
        QuotaOutcome(kind: .answered(usedTokens: usedTokens, rateLimit: rateLimit))
    }

    /// The connection could not be made, or broke: counts toward the circuit breaker.
    public static let connectionFailed = QuotaOutcome(kind: .connectionFailed)

    /// The request was sent and no answer came (a timeout, or it was cancelled in flight).
    public static let noAnswer = QuotaOutcome(kind: .noAnswer)

    /// The request was never sent: everything it booked is given back.
    public static let notSent = QuotaOutcome(kind: .notSent)

    /// The outcome for a failed attempt, from its error's kind.
    public init(failure: ItemError) {
        switch failure.kind {
        // A transient connection failure counts toward the breaker; a permanent one (an
        // untrusted certificate, an unknown host) says nothing about the server's health.
        case .network: self = failure.isRetryable ? .connectionFailed : .notSent
        case .timeout, .cancelled: self = .noAnswer
        case .invalidInput: self = .notSent
        default: self = .answered(usedTokens: nil, rateLimit: failure.rateLimit)
        }
    }

    private init(kind: Kind) { self.kind = kind }
}
