/// The work done for one item: a single attempt, which the engine may repeat.
///
/// An attempt throws an ``ItemError`` to say whether it may be retried and whether the server
/// asked for a delay; any other error ends the item (see ``ItemError/init(classifying:)``).
/// Attempts must honour task cancellation: the engine cancels an attempt at its timeout,
/// unless the operation bounds its own attempts (``enforcesTimeout``).
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

    /// Makes one attempt that must end within `timeout`, on the operation's own clock.
    ///
    /// Operations that can bound their own work (an HTTP request with a deadline) implement
    /// this and return `true` from ``enforcesTimeout``; the engine then calls it instead of
    /// racing ``attempt(_:attempt:)`` against a timer of its own, which costs two child tasks
    /// and a timer per attempt. A timeout throws ``ItemError/timedOut(after:)``. The default
    /// calls ``attempt(_:attempt:)``.
    func attempt(_ item: BatchItem<Input>, attempt: Int, timeout: Duration) async throws -> Output

    /// Whether ``attempt(_:attempt:timeout:)`` enforces its timeout. Default `false`: the
    /// engine enforces it, on its injected clock.
    var enforcesTimeout: Bool { get }

    /// The tokens a request for `input` may use at most (prompt estimate plus `max_tokens`),
    /// reserved against a tokens-per-minute limit before it is sent. Default 0.
    func estimatedTokens(for input: Input) -> Int

    /// An answer for `input` kept from an earlier run (a response cache), given without a
    /// request: the engine asks before the item waits for the quota or a retry, so a kept
    /// answer costs no request slot and no tokens. `nil` (the default) sends the request.
    func storedOutput(for input: Input) async -> Output?
}

extension BatchOperation {
    /// No token estimate by default.
    public func estimatedTokens(for input: Input) -> Int { 0 }

    /// No kept answers by default.
    public func storedOutput(for input: Input) async -> Output? { nil }

    /// Calls ``attempt(_:attempt:)``; the engine enforces the timeout.
    public func attempt(_ item: BatchItem<Input>, attempt: Int, timeout: Duration) async throws -> Output {
        try await self.attempt(item, attempt: attempt)
    }

    /// `false`: the engine enforces the timeout.
    public var enforcesTimeout: Bool { false }
}
