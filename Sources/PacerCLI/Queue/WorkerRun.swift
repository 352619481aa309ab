import PacerCore
import PacerJobs
import PacerMetrics
import PacerOpenAI
import PacerPostgres
import UnixSignals

/// The concurrent tasks of one `pacer worker` run, and what they share: the runner fed by the
/// claims, the flusher that stores results and gives the unfinished chunks back, heartbeats,
/// progress, the listener for new work, and Ctrl-C (stop claiming; after the grace period or
/// a second Ctrl-C cancel the requests in flight; on a second Ctrl-C also stop waiting for
/// the database).
struct WorkerRun: Sendable {
    let context: WorkerContext
    let runner: BatchRunner<ContinuousClock>
    /// The quota the runner paces against (`nil`: one of its own), which may stop the run.
    let quota: (any QuotaProtocol<ContinuousClock>)?
    let operation: APIClient
    let counters: BatchProgress
    let metrics: RunMetrics?
    let progress: ProgressReporter?
    /// Seconds the requests in flight get to finish after Ctrl-C.
    let grace: Double
    let follow: Bool

    let stopping = Latch()
    let cancelRequests = Latch()
    let abandon = Latch()
    let graceStarted = Latch()
    let interrupted = Tally()
    let control = BatchControl()

    /// How the run ended.
    struct Ending: Sendable {
        /// The engine's summary of the items this worker ran.
        var summary: BatchSummary
        /// The chunks given back when the worker stopped; `nil` when that was abandoned.
        var givenBack: Int?
        /// Why the worker could not claim work, if it could not (the database refused, or the
        /// batch was replaced).
        var claimError: (any Error)?
    }

    /// How one of the tasks ended.
    private enum TaskEnd: Sendable {
        /// The runner ended, with its summary (and the claims' error, if they failed).
        case summary(BatchSummary, claimError: (any Error)?)
        /// Every result that could be stored is, and the unfinished chunks are given back
        /// (`nil` when that was abandoned).
        case flushed(givenBack: Int?)
        /// A helper (heartbeat, progress, signals) ended.
        case ended
    }

    /// Runs every task until the items are done and stored (or the run is stopped).
    func run() async throws -> Ending {
        let flusher = ResultFlusher(context: context)
        let quota = quota
        let feed = ClaimFeed(
            context: context,
            halted: { [stopping] in stopping.isOpen || quota?.isStopped == true },
            follow: follow
        )
        return try await withThrowingTaskGroup(of: TaskEnd.self) { group in
            group.addTask { try await runItems(feed, flusher: flusher) }
            group.addTask { try await storeAndGiveBack(flusher) }
            group.addTask { await heartbeats() }
            if let progress {
                group.addTask {
                    await progress.run(counters)
                    return .ended
                }
            }
            if follow {
                // Pushes and given-back chunks wake the feed at once (it polls besides).
                group.addTask {
                    try? await context.queue.listenForWork { context.wake.ring() }
                    return .ended
                }
            }
            group.addTask { await watchSignals() }
            group.addTask { await graceTimer() }
            var ending: Ending?
            var flushed: Int??
            while let ended = try await group.next() {
                switch ended {
                case .summary(let summary, let error): ending = Ending(summary: summary, claimError: error)
                case .flushed(let back): flushed = .some(back)
                case .ended: break
                }
                // The work is over: stop heartbeating, drawing progress and watching signals.
                if ending != nil, flushed != nil { group.cancelAll() }
            }
            guard var ending, let flushed else { throw CancellationError() }
            ending.givenBack = flushed
            return ending
        }
    }

    /// Runs the claimed items, adding each result to the ledger for the flusher.
    private func runItems(_ feed: ClaimFeed, flusher: ResultFlusher) async throws -> TaskEnd {
        let (ledger, wake, metrics, quota) = (context.ledger, context.wake, metrics, quota)
        let ended: TaskEnd = try await cancelling(when: cancelRequests) { [runner, operation, control, counters] in
            do {
                let summary = try await runner.run(feed, operation: operation, control: control, progress: counters) {
                    item,
                    result in
                    metrics?.record(result)
                    // A stop for a long wait: the feed may be waiting for work; end that wait.
                    if quota?.isStopped == true { wake.ring() }
                    // An item stopped before it was done is not stored: its chunk goes back.
                    guard result.error?.kind != .cancelled else { return }
                    let waiting = ledger.add(
                        seq: Int64(item.index),
                        success: result.isSuccess,
                        line: BatchAPILine(result).jsonLine,
                        attempts: result.attempts
                    )
                    flusher.added(waiting: waiting)
                }
                return .summary(summary, claimError: nil)
            } catch let stopped as BatchStopped {
                var summary = stopped.summary
                guard !(stopped.cause is CancellationError) else { return .summary(summary, claimError: nil) }
                summary.inputFailed = true
                return .summary(summary, claimError: stopped.cause)
            }
        }
        flusher.feedingDone()
        return ended
    }

    /// Stores results until the runner has ended, then gives the unfinished chunks back.
    private func storeAndGiveBack(_ flusher: ResultFlusher) async throws -> TaskEnd {
        do {
            return try await cancelling(when: abandon) { [context] in
                try await flusher.run()
                let back = try await context.retrying("give back unfinished chunks") {
                    try await context.queue.giveBack(context.worker)
                }
                return .flushed(givenBack: back)
            }
        } catch is CancellationError {
            return .flushed(givenBack: nil)
        }
    }

    /// Heartbeats (and reaps) until cancelled; wakes the feed when the reaper returned chunks
    /// or the batch was replaced.
    private func heartbeats() async -> TaskEnd {
        while (try? await Task.sleep(for: context.timing.heartbeat)) != nil {
            do {
                let outcome = try await context.heartbeat()
                if outcome.returnedChunks > 0 || context.ledger.isReplaced { context.wake.ring() }
            } catch is CancellationError {
                break
            } catch {
                Console.error("warning: heartbeat: \(DatabaseFailure.describe(error))")
            }
        }
        return .ended
    }

    /// Ctrl-C (or SIGTERM): the first stops claiming and starts the grace period; the second
    /// cancels what is in flight and stops waiting for the database.
    private func watchSignals() async -> TaskEnd {
        for await _ in await UnixSignalsSequence(trapping: .sigint, .sigterm) {
            interrupted.add()
            if interrupted.count == 1 {
                stopping.open()
                context.wake.ring()
                control.stopAdmitting()
                Console.error(
                    "\nstopping: claiming no more work; waiting up to \(SummaryText.format(grace, digits: 0)) s "
                        + "for requests in flight (Ctrl-C again to stop now). Their results are stored, and "
                        + "the chunks not done go back to the batch."
                )
                graceStarted.open()
            } else {
                Console.error("stopping now: requests in flight are cancelled; unstored results are lost.")
                cancelRequests.open()
                abandon.open()
                break
            }
        }
        return .ended
    }

    /// Cancels the requests in flight once the grace period after the first Ctrl-C is over.
    private func graceTimer() async -> TaskEnd {
        await graceStarted.wait()
        if !Task.isCancelled, (try? await Task.sleep(for: .pacerSeconds(grace))) != nil {
            cancelRequests.open()
        }
        return .ended
    }
}
