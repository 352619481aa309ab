import PacerPostgres
import Synchronization

/// A worker's claimed chunks, whether they are still its own, and the results it has not
/// stored yet.
///
/// A chunk is finished when every item claimed with it has a stored result; it is marked done
/// in the same statement that stores its last results. Items never started (a stop) and items
/// cancelled keep their chunk open, and open chunks go back to the batch when the worker stops.
/// Results wait here while the database is down, and are stored once it is back.
///
/// A chunk the database took back (the worker was reaped, see ``ChunkHolds``) is forgotten:
/// its results waiting here are dropped (the database would refuse them), and the feed drops
/// its items not sent yet. So is everything once the batch turns out to be another push than
/// the one the worker serves (``isReplaced``).
package final class ChunkLedger: Sendable {
    /// Results to store and chunks to mark done, in one statement.
    package struct Flush: Sendable {
        var results: [StoredResult]
        var finishedChunks: [Int64]
    }

    private struct State {
        /// For each open chunk, its items without a stored result.
        var outstanding: [Int64: Int] = [:]
        /// The chunk of each item claimed and not stored.
        var chunkOf: [Int64: Int64] = [:]
        var buffered: [StoredResult] = []
        var holds: ChunkHolds
        /// The push of the batch this worker serves; `nil` until it has seen one.
        var generation: Int64?
        var replaced = false
        var stored = 0
        var alreadyStored = 0
        var claimedChunks = 0
        var lostChunks = 0
        var lostResults = 0
        var unsentDropped = 0

        /// Forgets `chunks`: their results waiting and their items are not the worker's to store.
        /// Chunks `reaped` count as lost (a batch replaced is said otherwise).
        mutating func forget(_ chunks: some Collection<Int64>, reaped: Bool = true) {
            guard !chunks.isEmpty else { return }
            let gone = Set(chunks)
            if reaped { lostChunks += gone.filter { outstanding[$0] != nil }.count }
            for chunk in gone { outstanding[chunk] = nil }
            chunkOf = chunkOf.filter { !gone.contains($0.value) }
            let before = buffered.count
            buffered.removeAll { gone.contains($0.chunk) }
            if reaped { lostResults += before - buffered.count }
            holds.released(gone)
        }
    }

    private let state: Mutex<State>

    /// A ledger whose holds are trusted for `trustFor` after each answer (see ``ChunkHolds``),
    /// for the push `generation` of the batch (`nil`: the first one seen).
    package init(trustFor: Duration, generation: Int64? = nil) {
        state = Mutex(State(holds: ChunkHolds(trustFor: trustFor), generation: generation))
    }

    /// The push of the batch this worker serves; `nil` until it has seen one.
    package var generation: Int64? { state.withLock { $0.generation } }

    /// Whether the batch was dropped, or dropped and pushed again, while the worker ran.
    package var isReplaced: Bool { state.withLock { $0.replaced } }

    /// The database says the batch's generation is `current` (`nil`: no batch). The first one
    /// seen is adopted; another one, or none after one, means the batch was replaced: every
    /// chunk is forgotten. Returns whether the batch is still the worker's.
    @discardableResult
    package func check(generation current: Int64?) -> Bool {
        state.withLock { state in
            guard let generation = state.generation else {
                state.generation = current
                return true
            }
            guard current != generation else { return !state.replaced }
            state.replaced = true
            state.forget(Array(state.outstanding.keys), reaped: false)
            return false
        }
    }

    /// A chunk was claimed with `items` by a statement sent at `sentAt` that answered `reaps`.
    package func opened(_ chunk: ClaimedChunk, reaps: Int?, sentAt: ContinuousClock.Instant) {
        state.withLock { state in
            state.claimedChunks += 1
            state.outstanding[chunk.chunk, default: 0] += chunk.items.count
            for item in chunk.items { state.chunkOf[item.seq] = chunk.chunk }
            state.forget(state.holds.claimed(chunk.chunk, reaps: reaps, sentAt: sentAt))
        }
    }

    /// A heartbeat sent at `sentAt` answered `reaps`; returns how many chunks it shows were lost.
    @discardableResult
    package func answered(reaps: Int?, sentAt: ContinuousClock.Instant) -> Int {
        state.withLock { state in
            let lost = state.holds.answered(reaps: reaps, sentAt: sentAt)
            state.forget(lost)
            return lost.count
        }
    }

    /// What to do at `now` with an item of `chunk` not sent yet.
    package func verdict(for chunk: Int64, at now: ContinuousClock.Instant) -> ChunkHolds.Verdict {
        state.withLock { $0.holds.verdict(for: chunk, at: now) }
    }

    /// `count` items of a lost chunk were dropped without being sent.
    package func droppedUnsent(_ count: Int) {
        state.withLock { $0.unsentDropped += count }
    }

    /// An item finished; returns the results waiting to be stored. The result of an item
    /// whose chunk was lost is dropped.
    @discardableResult
    package func add(seq: Int64, success: Bool, line: String, attempts: Int) -> Int {
        state.withLock { state in
            guard let chunk = state.chunkOf[seq] else {
                if !state.replaced { state.lostResults += 1 }
                return state.buffered.count
            }
            state.buffered.append(
                StoredResult(seq: seq, chunk: chunk, success: success, line: line, attempts: attempts)
            )
            return state.buffered.count
        }
    }

    /// The results waiting and the chunks they finish (and chunks claimed without items);
    /// `nil` when there is nothing to do. Give it back with ``stored(_:outcome:sentAt:)`` or
    /// ``restore(_:)``.
    package func takeFlush() -> Flush? {
        state.withLock { state in
            var counts: [Int64: Int] = [:]
            for result in state.buffered { counts[result.chunk, default: 0] += 1 }
            let finished = state.outstanding.compactMap { chunk, outstanding in
                outstanding - (counts[chunk] ?? 0) == 0 ? chunk : nil
            }
            guard !state.buffered.isEmpty || !finished.isEmpty else { return nil }
            defer { state.buffered.removeAll(keepingCapacity: true) }
            return Flush(results: state.buffered, finishedChunks: finished.sorted())
        }
    }

    /// A flush sent at `sentAt` was answered with `outcome`: results of chunks the worker
    /// holds went in (those not inserted were stored before, by a worker thought dead); the
    /// others were refused, and their chunks are forgotten.
    package func stored(_ flush: Flush, outcome: StoreOutcome, sentAt: ContinuousClock.Instant) {
        state.withLock { state in
            guard outcome.batchFound else {
                state.replaced = true
                state.forget(Array(state.outstanding.keys), reaped: false)
                return
            }
            var refused: Set<Int64> = []
            var accepted = 0
            for result in flush.results {
                guard outcome.held.contains(result.chunk) else {
                    refused.insert(result.chunk)
                    state.lostResults += 1
                    continue
                }
                accepted += 1
                state.outstanding[result.chunk, default: 0] -= 1
                state.chunkOf.removeValue(forKey: result.seq)
            }
            for chunk in flush.finishedChunks {
                // Closed either way: marked done, or (not the worker's any more) left alone.
                state.outstanding.removeValue(forKey: chunk)
                state.holds.released([chunk])
            }
            state.stored += outcome.inserted
            state.alreadyStored += accepted - outcome.inserted
            state.forget(refused)
            state.forget(state.holds.answered(reaps: outcome.reaps, sentAt: sentAt))
        }
    }

    /// A flush failed: its results wait again, before any that came since.
    package func restore(_ flush: Flush) {
        state.withLock { state in state.buffered.insert(contentsOf: flush.results, at: 0) }
    }

    /// Results not stored yet.
    package var unsaved: Int { state.withLock { $0.buffered.count } }
    /// Results this worker inserted.
    package var stored: Int { state.withLock { $0.stored } }
    /// Results another worker had stored first.
    package var alreadyStored: Int { state.withLock { $0.alreadyStored } }
    /// The chunks claimed and not finished.
    package var openChunks: [Int64] { state.withLock { Array($0.outstanding.keys) } }
    /// Chunks claimed so far.
    package var claimedChunks: Int { state.withLock { $0.claimedChunks } }
    /// What losing chunks cost: the chunks lost, the results of their items that were not
    /// stored (the item may be done by the worker that has the chunk now), and the items
    /// dropped without being sent.
    package var losses: (chunks: Int, results: Int, unsent: Int) {
        state.withLock { ($0.lostChunks, $0.lostResults, $0.unsentDropped) }
    }
}
