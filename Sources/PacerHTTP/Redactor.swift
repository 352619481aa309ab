import Foundation
import PacerCore

/// Removes secrets (API keys) from text before it reaches a message, a log line or a file.
public struct Redactor: Sendable, Hashable {
    /// The secrets to remove. Empty and very short strings are ignored.
    public let secrets: [String]

    /// Creates a redactor for the given secrets.
    public init(secrets: [String]) {
        self.secrets = secrets.filter { $0.count >= 4 }
    }

    /// The text with every secret replaced by `[REDACTED]`.
    public func redact(_ text: String) -> String {
        secrets.reduce(text) { $0.replacingOccurrences(of: $1, with: "[REDACTED]") }
    }

    /// The error with its message redacted.
    public func redact(_ error: ItemError) -> ItemError {
        var error = error
        error.message = redact(error.message)
        error.responseBody = error.responseBody.map(redact)
        return error
    }
}
