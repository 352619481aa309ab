import PacerCore
import PacerPostgres

/// What a worker's tasks share: the queue, who the worker is, its timing, and where outages
/// are reported.
struct WorkerContext: Sendable {
    let queue: BatchQueue
    let worker: WorkerIdentity
    let timing: WorkerTiming
    let outages: OutageReporter
    let quiet: Bool

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
    /// says what the reaper returned.
    @discardableResult
    func heartbeat(what: String = "send a heartbeat") async throws -> ReaperOutcome {
        let reap = outages.mayReap(threshold: timing.reapAfter) ? timing.reapAfter : nil
        let outcome = try await retrying(what) { try await queue.heartbeat(worker, reapAfter: reap) }
        if outcome.returnedChunks > 0, !quiet {
            let workers = outcome.lostWorkers == 1 ? "1 worker" : "\(outcome.lostWorkers) workers"
            Console.error(
                "\npacer: reaper: \(workers) went quiet (no heartbeat for \(SummaryText.format(timing.reapAfter.pacerSeconds, digits: 0)) s) "
                    + "or stopped without giving back their work; returned \(outcome.returnedChunks) chunks to the batch"
            )
        }
        return outcome
    }
}
