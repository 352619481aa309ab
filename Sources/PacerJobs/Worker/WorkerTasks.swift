import PacerCore
import PacerOpenAI
import PacerPostgres

/// The concurrent tasks of one worker's run, and what they share: the runner fed by the
/// claims, the flusher that stores results and gives the unfinished chunks back, heartbeats,
/// and the listener for new work. How they stop is the `RunStopStateMachine` shell's to say: they stop
/// claiming when told to stop admitting, the requests in flight are cancelled when
/// ``StopLatches/cancelInFlight`` opens, and storing is abandoned when
/// ``StopLatches/abandonStoring`` opens (the database is out of reach and a person asked
/// three times, or the batch was dropped).
struct WorkerTasks: Sendable {
    let context: WorkerContext
    let runner: BatchRunner<ContinuousClock>
    /// The quota the runner paces against, which may stop the run (a long wait).
    let quota: any QuotaProtocol<ContinuousClock>
    let operation: APISender
    let counters: BatchProgress
    let observe: (@Sendable (ItemResult<APIResponse>) -> Void)?
    let follow: Bool

    private let stopping = Latch()
    private let control = BatchControl()

    /// How the run ended.
    struct Ending: Sendable {
        /// The engine's summary of the items this worker ran.
        var summary: BatchSummary
        /// The chunks given back when the worker stopped; `nil` when that was abandoned.
        var givenBack: Int?
        /// Why the worker could not claim work, if it could not (the database refused, or the
        /// batch was replaced).
        var claimError: (any Error)? = nil
    }

    /// How one of the tasks ended.
    private enum TaskEnd: Sendable {
        /// The runner ended, with its summary (and the claims' error, if they failed).
        case summary(BatchSummary, claimError: (any Error)?)
        /// Every result that could be stored is, and the unfinished chunks are given back
        /// (`nil` when that was abandoned).
        case flushed(givenBack: Int?)
        /// A helper (heartbeat, listener) ended.
        case ended
    }

    /// Claims no more work: the feed ends (its wait for work, too) and the runner admits
    /// nothing more.
    func stopAdmitting() {
        stopping.open()
        context.wake.ring()
        control.stopAdmitting()
    }

    /// Runs every task until the items are done and stored (or the run is stopped).
    func run(_ latches: StopLatches) async throws -> Ending {
        let flusher = ResultFlusher(context: context)
        let (stopping, quota) = (stopping, quota)
        let feed = ClaimFeed(
            context: context,
            halted: { stopping.isOpen || quota.isStopped },
            follow: follow
        )
        return try await withThrowingTaskGroup(of: TaskEnd.self) { group in
            group.addTask { try await runItems(feed, flusher: flusher, cancel: latches.cancelInFlight) }
            group.addTask { try await storeAndGiveBack(flusher, abandon: latches.abandonStoring) }
            group.addTask { await heartbeats() }
            if follow {
                // Pushes and given-back chunks wake the feed at once (it polls besides).
                group.addTask { [context] in
                    try? await context.queue.listenForWork { context.wake.ring() }
                    return .ended
                }
            }
            var ending: Ending?
            var flushed: Int??
            while let ended = try await group.next() {
                switch ended {
                case .summary(let summary, let error): ending = Ending(summary: summary, claimError: error)
                case .flushed(let back): flushed = .some(back)
                case .ended: break
                }
                // The work is over: stop heartbeating and listening.
                if ending != nil, flushed != nil { group.cancelAll() }
            }
            guard var ending, let flushed else { throw CancellationError() }
            ending.givenBack = flushed
            return ending
        }
    }

    /// Runs the claimed items, adding each result to the ledger for the flusher.
    private func runItems(_ feed: ClaimFeed, flusher: ResultFlusher, cancel: Latch) async throws -> TaskEnd {
        let (ledger, wake, observe, quota) = (context.ledger, context.wake, observe, quota)
        let ended: TaskEnd = try await cancelling(when: cancel) { [runner, operation, control, counters] in
            do {
                let summary = try await runner.run(feed, operation: operation, control: control, progress: counters) {
                    item,
                    result in
                    observe?(result)
                    // A stop for a long wait: the feed may be waiting for work; end that wait.
                    if quota.isStopped { wake.ring() }
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
    private func storeAndGiveBack(_ flusher: ResultFlusher, abandon: Latch) async throws -> TaskEnd {
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

    /// Heartbeats (and reaps) until cancelled; wakes the feed when the reaper returned chunks.
    private func heartbeats() async -> TaskEnd {
        while (try? await Task.sleep(for: context.timing.heartbeat)) != nil {
            do {
                let outcome = try await context.heartbeat()
                if outcome.returnedChunks > 0 { context.wake.ring() }
            } catch is CancellationError {
                break
            } catch {
                context.notes(.heartbeatFailed(DatabaseFailure.describe(error)))
            }
        }
        return .ended
    }
}
