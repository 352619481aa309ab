/// The work done for one item: a single attempt, which the engine may repeat.
///
/// An attempt throws an ``ItemError`` to say whether it may be retried and whether the server
/// asked for a delay; any other error ends the item (see ``ItemError/init(classifying:)``).
/// Attempts must honour task cancellation: the engine cancels an attempt at its timeout.
public protocol BatchOperation: Sendable {
    /// What one item carries.
    associatedtype Input: Sendable
    /// What a successful attempt produces.
    associatedtype Output: MeteredOutput

    /// Makes one attempt at an item.
    ///
    /// - Parameters:
    ///   - item: The item.
    ///   - attempt: 1 for the first attempt, 2 for the first retry, …
    func attempt(_ item: BatchItem<Input>, attempt: Int) async throws -> Output

    /// The tokens a request for `input` may use at most (prompt estimate plus `max_tokens`),
    /// reserved against a tokens-per-minute limit before it is sent. Default 0.
    func estimatedTokens(for input: Input) -> Int
}

extension BatchOperation {
    /// No token estimate by default.
    public func estimatedTokens(for input: Input) -> Int { 0 }
}
