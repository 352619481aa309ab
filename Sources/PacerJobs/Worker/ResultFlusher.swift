import PacerPostgres
import Synchronization

/// Stores a worker's results in batches: every ``WorkerTiming/flushInterval``, or at once when
/// ``WorkerTiming/flushSize`` are waiting: a few round trips for many items. While the
/// database is down the results wait in the ledger, and are stored once it is back. The
/// database stores only the results of chunks the worker still holds, of the push it serves;
/// the ledger learns from each answer which chunks it lost.
final class ResultFlusher: Sendable {
    let context: WorkerContext
    /// Rung when results pile up, and when the runner has ended.
    let bell = Bell()
    private let feedingEnded = Atomic<Bool>(false)

    init(context: WorkerContext) {
        self.context = context
    }

    /// A result was added and `waiting` are now waiting.
    func added(waiting: Int) {
        if waiting >= context.timing.flushSize { bell.ring() }
    }

    /// The runner ended: store what is left, and end ``run()``.
    func feedingDone() {
        feedingEnded.store(true, ordering: .releasing)
        bell.ring()
    }

    /// Stores results until the runner has ended and everything is stored: what is waiting
    /// at each wake-up in one statement (results that come in meanwhile wait for the next).
    ///
    /// - Throws: An error that is not an outage (a bug); `CancellationError` when cancelled.
    func run() async throws {
        while true {
            let last = feedingEnded.load(ordering: .acquiring)
            try await flushOnce()
            if last { return }
            await bell.wait(upTo: context.timing.flushInterval)
        }
    }

    /// Stores what is waiting now, in one statement; `false` when nothing was.
    @discardableResult
    func flushOnce() async throws -> Bool {
        let ledger = context.ledger
        // Results come only from claimed chunks, so the ledger knows the batch's push by then.
        guard let generation = ledger.generation, let flush = ledger.takeFlush() else { return false }
        do {
            let (queue, worker) = (context.queue, context.worker)
            let (sentAt, outcome) = try await context.retrying("store results") {
                let sentAt = ContinuousClock.now
                let outcome = try await queue.store(
                    flush.results,
                    finishedChunks: flush.finishedChunks,
                    for: worker,
                    generation: generation
                )
                return (sentAt, outcome)
            }
            ledger.stored(flush, outcome: outcome, sentAt: sentAt)
            context.stillServing()
            return true
        } catch {
            ledger.restore(flush)
            throw error
        }
    }
}
