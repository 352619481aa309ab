import PacerCore
import PacerPostgres

/// What a worker's tasks share: the queue, who the worker is, its timing, where outages and
/// notes go, the run's stop, its ledger of chunks and results, and the bell that wakes its
/// feed.
struct WorkerContext: Sendable {
    let queue: BatchQueue
    let worker: WorkerIdentity
    let timing: WorkerTiming
    let outages: OutageReporter
    let notes: @Sendable (RunNote) -> Void
    let handle: RunHandle
    let ledger: ChunkLedger
    /// Rung when work may have become claimable (a push, a give-back, a reap), when the batch
    /// was replaced, and when the run stops.
    let wake = Bell()

    /// Runs `body`, waiting out database outages (see
    /// `QueueDatabase.retrying(_:abandonAfter:onOutage:_:)`); unless it `mayTakeLong`, an
    /// attempt unanswered for ``WorkerTiming/abandonUnanswered`` is abandoned and tried again.
    func retrying<T: Sendable>(
        _ what: String,
        mayTakeLong: Bool = false,
        _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        try await queue.database.retrying(
            what,
            abandonAfter: mayTakeLong ? nil : timing.abandonUnanswered,
            onOutage: { [outages] in outages.report($0) },
            body
        )
    }

    /// Whether the batch is still the push this worker serves. Once it is not (dropped, or
    /// dropped and pushed again), the run's stop hears that its work was withdrawn: what is in
    /// flight is cancelled and nothing more is stored, and the feed wakes to end.
    @discardableResult
    func stillServing() -> Bool {
        guard ledger.isReplaced else { return true }
        handle.handle(.withdrawn(QueueError.batchReplaced(queue.batch).description))
        wake.ring()
        return false
    }

    /// Heartbeats, and runs the reaper when it may (see ``OutageReporter/mayReap(threshold:)``);
    /// tells the ledger what the database says of the worker's chunks and batch, and tells
    /// what the reaper returned and what this worker lost.
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
        ledger.check(generation: outcome.generation)
        stillServing()
        let lost = ledger.answered(reaps: outcome.reaps, sentAt: sentAt)
        if lost > 0 { notes(.lostChunks(lost, reapAfter: timing.reapAfter)) }
        if outcome.returnedChunks > 0 {
            notes(.reaped(workers: outcome.lostWorkers, chunks: outcome.returnedChunks, reapAfter: timing.reapAfter))
        }
        return outcome
    }
}
