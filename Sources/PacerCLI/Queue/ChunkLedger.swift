import PacerPostgres
import Synchronization

/// A worker's claimed chunks and the results it has not stored yet.
///
/// A chunk is finished when every item claimed with it has a stored result; it is marked done
/// in the same statement that stores its last results. Items never started (a stop) and items
/// cancelled keep their chunk open, and open chunks go back to the batch when the worker stops.
/// Results wait here while the database is down, and are stored once it is back.
final class ChunkLedger: Sendable {
    /// Results to store and chunks to mark done, in one statement.
    struct Flush: Sendable {
        var results: [StoredResult]
        var finishedChunks: [Int64]
    }

    private struct State {
        /// For each open chunk, its items without a stored result.
        var outstanding: [Int64: Int] = [:]
        /// The chunk of each item claimed and not stored.
        var chunkOf: [Int64: Int64] = [:]
        var buffered: [StoredResult] = []
        var stored = 0
        var alreadyStored = 0
        var claimedChunks = 0
    }

    private let state = Mutex(State())

    /// A chunk was claimed with `items`.
    func opened(_ chunk: ClaimedChunk) {
        state.withLock { state in
            state.claimedChunks += 1
            state.outstanding[chunk.chunk, default: 0] += chunk.items.count
            for item in chunk.items { state.chunkOf[item.seq] = chunk.chunk }
        }
    }

    /// An item finished; returns the results waiting to be stored.
    @discardableResult
    func add(seq: Int64, success: Bool, line: String, attempts: Int) -> Int {
        state.withLock { state in
            guard let chunk = state.chunkOf[seq] else { return state.buffered.count }
            state.buffered.append(
                StoredResult(seq: seq, chunk: chunk, success: success, line: line, attempts: attempts)
            )
            return state.buffered.count
        }
    }

    /// The results waiting and the chunks they finish (and chunks claimed without items);
    /// `nil` when there is nothing to do. Give it back with ``stored(_:inserted:)`` or
    /// ``restore(_:)``.
    func takeFlush() -> Flush? {
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

    /// A flush was stored: `inserted` of its results were new (the others were stored before,
    /// by a worker thought dead).
    func stored(_ flush: Flush, inserted: Int) {
        state.withLock { state in
            for result in flush.results {
                state.outstanding[result.chunk, default: 0] -= 1
                state.chunkOf.removeValue(forKey: result.seq)
            }
            for chunk in flush.finishedChunks { state.outstanding.removeValue(forKey: chunk) }
            state.stored += inserted
            state.alreadyStored += flush.results.count - inserted
        }
    }

    /// A flush failed: its results wait again, before any that came since.
    func restore(_ flush: Flush) {
        state.withLock { state in state.buffered.insert(contentsOf: flush.results, at: 0) }
    }

    /// Results not stored yet.
    var unsaved: Int { state.withLock { $0.buffered.count } }
    /// Results this worker inserted.
    var stored: Int { state.withLock { $0.stored } }
    /// Results another worker had stored first.
    var alreadyStored: Int { state.withLock { $0.alreadyStored } }
    /// The chunks claimed and not finished.
    var openChunks: [Int64] { state.withLock { Array($0.outstanding.keys) } }
    /// Chunks claimed so far.
    var claimedChunks: Int { state.withLock { $0.claimedChunks } }
}
