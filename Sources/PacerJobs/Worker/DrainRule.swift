import PacerPostgres

/// When a worker that found nothing to claim may end: the rule, apart from the database.
///
/// A worker exits only when no chunk is pending and no other worker holds one: a chunk held
/// by a live worker may still be given back (Ctrl-C, a long wait imposed by the server), and
/// one held by a worker gone silent comes back when the reaper finds it (after
/// `--reap-after`); either way this worker must be there to do it. With `--follow` it never
/// ends by itself.
package struct DrainRule: Sendable, Hashable {
    /// What to do next.
    package enum Step: Sendable, Hashable {
        /// Claim again: work is (or may be) pending.
        case claimAgain
        /// Wait up to this long (or until woken), then look again.
        case wait(Duration)
        /// The batch is done: end.
        case end
    }

    /// `--follow`: wait for more work instead of ending.
    package var follow: Bool
    /// `--poll`: with `--follow` and nothing held anywhere, the longest wait between looks.
    package var poll: Duration
    /// `--heartbeat`: the longest wait while other workers hold chunks (the reaper runs with
    /// each look).
    package var recheck: Duration

    /// The rule for `follow`, waiting up to `poll` for new work, and `recheck` while other
    /// workers hold chunks.
    package init(follow: Bool, poll: Duration, recheck: Duration) {
        self.follow = follow
        self.poll = poll
        self.recheck = recheck
    }

    /// The step after `outlook`, read when nothing could be claimed.
    package func step(after outlook: BatchOutlook) -> Step {
        // Pending, yet not claimed: other workers were claiming those chunks at that moment.
        if outlook.pending > 0 { return .claimAgain }
        if outlook.heldByOthers > 0 { return .wait(min(poll, recheck)) }
        return follow ? .wait(poll) : .end
    }
}
