import PacerCore
import PacerPostgres
import Synchronization

/// Tells of each database outage once, when it starts and when it ends, whichever of a
/// worker's tasks (claiming, storing, heartbeating) runs into it; and tells the reaper when it
/// may run.
///
/// After an outage every worker's heartbeat is old. A worker that came back first must not
/// take the others' chunks before they had the same time to come back: it reaps again only
/// once the database has been back for the reaper's threshold.
package final class OutageReporter: Sendable {
    private struct State {
        var down = false
        /// When the database answered again after the last outage; `nil` before any.
        var backSince: ContinuousClock.Instant?
    }

    private let state = Mutex(State())
    private let notes: @Sendable (RunNote) -> Void
    private let handle: RunHandle?

    /// Tells `notes` of outages, and `handle` (if any) that the database is out of reach.
    package init(notes: @escaping @Sendable (RunNote) -> Void, handle: RunHandle? = nil) {
        self.notes = notes
        self.handle = handle
    }

    /// Tells of `outage` unless it is news of an outage already told (or of none).
    package func report(_ outage: DatabaseOutage) {
        let news = state.withLock { state in
            switch outage {
            case .slow, .unreachable:
                defer { state.down = true }
                return !state.down
            case .back:
                defer {
                    state.down = false
                    state.backSince = .now
                }
                return state.down
            }
        }
        if case .back = outage {} else { handle?.handle(.databaseUnreachable) }
        if news { notes(.databaseOutage(outage.description)) }
    }

    /// Whether the reaper may run: the database is up, and has been for `threshold` since the
    /// last outage (if there was one).
    package func mayReap(threshold: Duration) -> Bool {
        state.withLock { state in
            guard !state.down else { return false }
            guard let back = state.backSince else { return true }
            return back.duration(to: .now) >= threshold
        }
    }
}
