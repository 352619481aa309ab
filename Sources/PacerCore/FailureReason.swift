/// One reason items failed, and how many failed for it: an error's kind, its HTTP status and
/// its message (as the output lines have them).
public struct FailureReason: Sendable, Hashable, Codable {
    /// The error's kind (`network`, `http_status`, …).
    public var kind: String
    /// The HTTP status, when the failure was an answer.
    public var status: Int?
    /// What went wrong, as the output line says it (at most ``longestMessage`` characters).
    public var message: String
    /// Items that failed for it.
    public var count: Int

    /// Creates a reason.
    public init(kind: String, status: Int? = nil, message: String, count: Int) {
        self.kind = kind
        self.status = status
        self.message = message
        self.count = count
    }

    /// The most reasons a summary lists.
    public static let shown = 3
    /// The longest message kept; a longer one is cut with an ellipsis.
    public static let longestMessage = 300

    /// Counts failures by reason in bounded memory: the first ``distinct`` reasons are counted
    /// each on its own, later new ones together as "other reasons".
    struct Tally: Sendable {
        /// The most reasons counted apart.
        static let distinct = 64

        private struct Key: Hashable {
            var kind: String
            var status: Int?
            var message: String
        }

        private var counts: [Key: Int] = [:]
        private var others = 0

        mutating func add(_ error: ItemError) {
            var message = error.message
            if message.count > FailureReason.longestMessage {
                message = String(message.prefix(FailureReason.longestMessage)) + "…"
            }
            let key = Key(kind: error.kind.rawValue, status: error.status, message: message)
            if counts[key] != nil || counts.count < Self.distinct {
                counts[key, default: 0] += 1
            } else {
                others += 1
            }
        }

        /// The most frequent reasons (ties in the order of their text), and the rest as one
        /// "other reasons" entry when reasons went uncounted apart.
        var mostCommon: [FailureReason] {
            var reasons = counts.map { FailureReason(kind: $0.kind, status: $0.status, message: $0.message, count: $1) }
            reasons.sort { ($1.count, $0.kind, $0.message) < ($0.count, $1.kind, $1.message) }
            var shown = Array(reasons.prefix(FailureReason.shown))
            let rest = reasons.dropFirst(FailureReason.shown).reduce(others) { $0 + $1.count }
            if rest > 0 { shown.append(FailureReason(kind: "other", message: "other reasons", count: rest)) }
            return shown
        }
    }
}
