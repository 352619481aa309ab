/// Lets the owner of a running batch stop it gracefully: no new item is admitted, and no item
/// waits any longer to be sent (for the rate limit, or before a retry); the requests already on
/// the wire go on (cancel the batch's task to stop those too).
public final class BatchControl: Sendable {
    private let stop = Latch()

    /// Creates a control for one batch.
    public init() {}

    /// Stops admitting new items and ends every wait before a send at once. Requests in
    /// flight are not touched.
    public func stopAdmitting() { stop.open() }

    /// Whether ``stopAdmitting()`` was called.
    public var isStopping: Bool { stop.isOpen }

    /// The control of the batch whose attempt runs in this task, set by the engine around
    /// each attempt: an operation that waits before it sends (a router waiting for a
    /// deployment with room) ends that wait when the batch stops, as an item waiting for the
    /// quota does.
    @TaskLocal public static var current: BatchControl?

    /// Returns once ``stopAdmitting()`` is called, or when the calling task is cancelled.
    func stopped() async { await stop.wait() }
}

/// A wait before a send ended because its batch was told to stop (``BatchControl/stopAdmitting()``).
public struct StopRequested: Error, Hashable {
    /// Creates the error.
    public init() {}
}

extension Clock where Duration == Swift.Duration {
    /// Sleeps until `deadline`, ending early with ``StopRequested`` when `control` is told to
    /// stop (at once, if it already was).
    ///
    /// - Throws: ``StopRequested``, or `CancellationError` when the task is cancelled.
    public func sleep(until deadline: Instant, unlessStopped control: BatchControl?) async throws {
        guard let control else { return try await sleep(until: deadline, tolerance: nil) }
        if control.isStopping { throw StopRequested() }
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await self.sleep(until: deadline, tolerance: nil)
                return true
            }
            group.addTask {
                await control.stopped()
                return false
            }
            defer { group.cancelAll() }
            // The first to end decides; the other is cancelled.
            guard let slept = try await group.next(), slept else {
                try Task.checkCancellation()
                throw StopRequested()
            }
        }
    }
}
