import Synchronization

/// Wraps an operation to record when each attempt starts, for measuring achieved rates
/// (benchmarks, tests). Adds a lock and an array append per attempt.
public final class TimedOperation<Base: BatchOperation>: BatchOperation, Sendable {
    /// The wrapped operation.
    public let base: Base
    private let origin = ContinuousClock.now
    private let times = Mutex<[Double]>([])

    /// Wraps `base`.
    public init(base: Base) { self.base = base }

    /// When each attempt so far started, in seconds since this wrapper was made, in order.
    public var starts: [Double] { times.withLock { $0.sorted() } }

    /// Records the start, then makes the attempt with the wrapped operation.
    public func attempt(_ item: BatchItem<Base.Input>, attempt: Int) async throws -> Base.Output {
        let now = origin.duration(to: .now).pacerSeconds
        times.withLock { $0.append(now) }
        return try await base.attempt(item, attempt: attempt)
    }

    /// Records the start, then makes the attempt with the wrapped operation and its timeout.
    public func attempt(_ item: BatchItem<Base.Input>, attempt: Int, timeout: Duration) async throws -> Base.Output {
        let now = origin.duration(to: .now).pacerSeconds
        times.withLock { $0.append(now) }
        return try await base.attempt(item, attempt: attempt, timeout: timeout)
    }

    /// Whether the wrapped operation enforces its timeout.
    public var enforcesTimeout: Bool { base.enforcesTimeout }

    /// The wrapped operation's estimate.
    public func estimatedTokens(for input: Base.Input) -> Int { base.estimatedTokens(for: input) }
}
