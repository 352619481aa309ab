import Synchronization

/// Lets the owner of a running batch stop it gracefully: no new item is admitted, the items
/// in flight go on (cancel the batch's task to stop those too).
public final class BatchControl: Sendable {
    private let stopping = Mutex(false)

    /// Creates a control for one batch.
    public init() {}

    /// Stops admitting new items. Items in flight are not touched.
    public func stopAdmitting() {
        stopping.withLock { $0 = true }
    }

    /// Whether ``stopAdmitting()`` was called.
    public var isStopping: Bool { stopping.withLock { $0 } }
}
