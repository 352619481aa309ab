/// What a run says along the way, for a person: the CLI prints it, a server logs it. A run
/// never prints; it tells its caller these.
package enum RunNote: Sendable, Hashable {
    /// Admission stopped; the requests in flight have `grace` to finish.
    case stopping(grace: Duration)
    /// The requests still in flight are being cancelled (the grace ended, or a second signal).
    case cancelling
    /// The run stopped waiting to store results (a third signal while the database is out of
    /// reach): what is not stored is left to a rerun, or to another worker.
    case abandonedStoring
    /// Lines a retry superseded were dropped from `file`.
    case compacted(file: String, droppedLines: Int)
    /// Compacting failed (nothing is lost: the files stay a valid journal).
    case compactionFailed(String)

    // A worker's notes.

    /// A worker registered on `batch`, as `host` and `pid`.
    case registered(host: String, pid: Int, batch: String, follow: Bool)
    /// `--retry-failed` made this many failed items (in this many chunks) claimable again.
    case reopened(items: Int, chunks: Int)
    /// The database went away, is slow, or came back (each said once).
    case databaseOutage(String)
    /// A heartbeat failed with something other than an outage.
    case heartbeatFailed(String)
    /// This worker's reaper returned `chunks` of `workers` gone quiet for `reapAfter`.
    case reaped(workers: Int, chunks: Int, reapAfter: Duration)
    /// This worker was silent for longer than `reapAfter` and lost `chunks` to the reaper.
    case lostChunks(Int, reapAfter: Duration)
}
