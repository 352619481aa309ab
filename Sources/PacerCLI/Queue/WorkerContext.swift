import PacerCore
import PacerPostgres

/// What a worker's tasks share: the queue, who the worker is, its timing, where outages are
/// reported, its ledger of chunks and results, and the bell that wakes its feed.
struct WorkerContext: Sendable {
    let queue: BatchQueue
    let worker: WorkerIdentity
    let timing: WorkerTiming
    let outages: OutageReporter
    let quiet: Bool
    let ledger: ChunkLedger
    /// Rung when work may have become claimable (a push, a give-back, a reap), when the batch
    /// was replaced, and when the run stops.
    let wake = Bell()

    /// Runs `body`, waiting out database outages (see
    /// ``QueueDatabase/retrying(_:abandonAfter:onOutage:_:)``); unless it `mayTakeLong`, an
    /// attempt unanswered for ``WorkerTiming/abandonUnanswered`` is abandoned and tried again.
    func retrying<T: Sendable>(
        _ what: String,
        mayTakeLong: Bool = false,
        _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        try await queue.database.retrying(
            what,
            abandonAfter: mayTakeLong ? nil : timing.abandonUnanswered,
            onOutage: { outages.report($0) },
            body
        )
    }

    /// Heartbeats, and runs the reaper when it may (see ``OutageReporter/mayReap(threshold:)``);
    /// tells the ledger what the database says of the worker's chunks and batch, and says what
    /// the reaper returned and what this worker lost.
    @discardableResult
    func heartbeat(what: String = "send a heartbeat") async throws -> ReaperOutcome {
        let reap = outages.mayReap(threshold: timing.reapAfter) ? timing.reapAfter : nil
        let (queue, worker, generation, own) = (queue, worker, ledger.generation, timing.reapAfter)
        let (sentAt, outcome) = try await retrying(what) {
            let sentAt = ContinuousClock.now
            let outcome = try await queue.heartbeat(
                worker,
                generation: generation,
                ownReapAfter: own,
                reapAfter: reap
            )
            return (sentAt, outcome)
        }
        let reapSeconds = SummaryText.format(timing.reapAfter.pacerSeconds, digits: 0)
        if !ledger.check(generation: outcome.generation) { wake.ring() }
        let lost = ledger.answered(reaps: outcome.reaps, sentAt: sentAt)
        if lost > 0 {
            // Said even with --quiet: the worker was not doing what it seemed to.
            Console.error(
                "\npacer: this worker was silent for more than --reap-after (\(reapSeconds) s) and the reaper gave "
                    + "\(lost == 1 ? "its chunk" : "its \(lost) chunks") back to the batch; it drops their items not "
                    + "sent yet and goes on with new work"
            )
        }
        if outcome.returnedChunks > 0, !quiet {
            let workers = outcome.lostWorkers == 1 ? "1 worker" : "\(outcome.lostWorkers) workers"
            Console.error(
                "\npacer: reaper: \(workers) went quiet (no heartbeat for \(reapSeconds) s) "
                    + "or stopped without giving back their work; returned \(outcome.returnedChunks) chunks to the batch"
            )
        }
        return outcome
    }
}
