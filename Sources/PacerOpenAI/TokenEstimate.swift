/// A tokenizer-free estimate of a prompt's tokens: about four characters a token, plus the
/// few tokens OpenAI adds per message and per reply.
///
/// Good enough to reserve against a tokens-per-minute limit; the reservation is settled with
/// the server's real `usage` afterwards.
public enum TokenEstimate {
    /// The estimated prompt tokens of a conversation.
    public static func prompt(_ messages: [ChatMessage]) -> Int {
        3 + messages.reduce(0) { $0 + 4 + text($1.content) }
    }

    /// The estimated tokens of a text on its own (an embedding or moderation input, a
    /// completion prompt): a token per four UTF-8 bytes, rounded up. The simulator counts
    /// with the same rule, so against it estimates and usage agree.
    public static func text(_ text: String) -> Int {
        (text.utf8.count + 3) / 4
    }

    /// The completion tokens assumed when a request sets no `max_tokens`.
    public static let defaultCompletionAllowance = 256
}
