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

    /// What the server's headers said, when it answered.
    public var rateLimit: RateLimitSnapshot? {
        if case .answered(_, let rateLimit) = kind { return rateLimit }
        return nil
    }

    /// Whether the server answered and counted tokens (a success that reported its usage).
    public var countedTokens: Bool {
        if case .answered(_?, _) = kind { return true }
        return false
    }

    /// Whether the server answered (with any status).
    public var isAnswer: Bool {
        if case .answered = kind { return true }
        return false
    }

    /// Tokens booked and not used, for a booking of `reserved`: all of them when the request
    /// was not sent or the server counted none, the difference when it counted fewer, none
    /// when no answer came (the server may have counted them).
    public func unusedTokens(of reserved: Int) -> Int {
        switch kind {
        case .answered(let used?, _): max(0, reserved - used)
        case .answered(nil, _), .notSent, .connectionFailed: reserved
        case .noAnswer: 0
        }
    }

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
