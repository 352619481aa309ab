/// Which of its claimed chunks a worker may still send items of, as far as the database has
/// told it: the pure core of ``ChunkLedger``'s ownership, with time given, not read.
///
/// The database takes a worker's chunks only by reaping it: marking it lost and counting the
/// reap in its row (`reaps`), once its heartbeat is older than `--reap-after`. Every heartbeat,
/// claim and store refreshes that heartbeat and answers the count. So a chunk is the worker's
/// while
/// 1. no answer since its claim has shown a higher count (a reap after the claim took every
///    chunk the worker held), and
/// 2. the last such answer was *sent* less than ``trustFor`` ago: until then no reaper can
///    have found the heartbeat old (it was refreshed no earlier than the send).
///
/// Past ``trustFor`` (a worker frozen, a machine suspended, a database that did not answer)
/// the worker asks before it sends another item: ``verdict(for:at:)`` says
/// ``Verdict/ask``.
package struct ChunkHolds: Sendable, Hashable {
    /// What the worker may do with an item of a chunk.
    package enum Verdict: Sendable, Hashable {
        /// Send it: the chunk is the worker's.
        case holds
        /// Ask the database first (a heartbeat): the last answer is too old to go on.
        case ask
        /// Drop it: the chunk went back to the batch (or was never claimed).
        case lost
    }

    /// How long an answer is trusted: half of `--reap-after`, so that a reaper on a clock
    /// running a little fast, or an answer that took a while, still leaves a margin.
    package let trustFor: Duration
    /// The highest reap count the database answered.
    private(set) var reaps = 0
    /// When the latest answer that told the count was sent; `nil` before any.
    package private(set) var confirmedAt: ContinuousClock.Instant?
    /// Each held chunk, with the reap count when it was claimed.
    private var claimedUnder: [Int64: Int] = [:]

    /// Holds trusted for `trustFor` after each answer.
    package init(trustFor: Duration) {
        self.trustFor = trustFor
    }

    /// The chunks held.
    package var held: Set<Int64> { Set(claimedUnder.keys) }

    /// `chunk` was claimed by a statement sent at `sentAt` that answered `reaps` (`nil`: the
    /// worker has no row, so the count is not known). Returns the chunks that count shows
    /// were lost.
    package mutating func claimed(_ chunk: Int64, reaps: Int?, sentAt: ContinuousClock.Instant) -> [Int64] {
        let lost = answered(reaps: reaps, sentAt: sentAt)
        // An answer sent later came first and counted a reap this claim did not see: the
        // reap took this chunk too.
        if let reaps, reaps < self.reaps { return lost + [chunk] }
        claimedUnder[chunk] = self.reaps
        return lost
    }

    /// A statement sent at `sentAt` answered the reap count `reaps` (`nil`: no count, which
    /// confirms nothing). Returns the chunks it shows were lost, which are no longer held.
    package mutating func answered(reaps: Int?, sentAt: ContinuousClock.Instant) -> [Int64] {
        guard let reaps else { return [] }
        confirmedAt = max(confirmedAt ?? sentAt, sentAt)
        guard reaps > self.reaps else { return [] }
        self.reaps = reaps
        let lost = claimedUnder.filter { $0.value < reaps }.keys.sorted()
        for chunk in lost { claimedUnder[chunk] = nil }
        return lost
    }

    /// `chunks` are no longer held: done, refused by the database, or given back.
    package mutating func released(_ chunks: some Sequence<Int64>) {
        for chunk in chunks { claimedUnder[chunk] = nil }
    }

    /// What to do with an item of `chunk` at `now`.
    package func verdict(for chunk: Int64, at now: ContinuousClock.Instant) -> Verdict {
        guard claimedUnder[chunk] != nil else { return .lost }
        guard let confirmedAt, confirmedAt.duration(to: now) < trustFor else { return .ask }
        return .holds
    }
}
