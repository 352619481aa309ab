/// How often a worker heartbeats, stores results and looks for work, and when the reaper
/// takes a quiet worker's chunks: configurable so that tests stay short.
package struct WorkerTiming: Sendable, Hashable {
    /// Between heartbeats (which also run the reaper). Default 5 s.
    package var heartbeat: Duration = .seconds(5)
    /// A worker whose heartbeat is older than this is lost, and its chunks go back. Default 30 s:
    /// several heartbeats, so that a slow database or a paused machine is not taken for dead.
    package var reapAfter: Duration = .seconds(30)
    /// With `--follow`, between looks for new work when there is none (a push or a give-back
    /// wakes the worker at once; this is for a missed notification). Default 10 s.
    package var poll: Duration = .seconds(10)
    /// The longest a finished result waits before it is stored. Default 0.5 s.
    package var flushInterval: Duration = .milliseconds(500)
    /// Results that are stored at once, without waiting for the interval. Default 200.
    package var flushSize = 200
    /// A claim, store or heartbeat still unanswered this long while the database answers a
    /// new connection is abandoned and tried again. Default 15 s: each takes milliseconds.
    package var abandonUnanswered: Duration = .seconds(15)

    /// The defaults.
    package init() {}
}
