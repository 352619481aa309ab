import Foundation
import PacerCore
import PacerHTTP
import PacerJSON
import PacerOpenAI
import PacerPostgres

/// A worker's items: claimed from the batch a chunk at a time, as the runner asks for them.
///
/// An item is handed out only while its chunk is still the worker's (see ``ChunkHolds``):
/// when the last word from the database is older than half of `--reap-after`, the feed
/// heartbeats first, and drops the items of chunks that went back to the batch.
///
/// When no chunk is pending, the chunks a lost answer left claimed by this worker go back, and
/// the reaper runs once (a dead worker's chunks become pending). Then ``DrainRule`` decides: the
/// feed ends only when no chunk is pending or held by another worker (a live worker may give
/// its chunks back, a silent one is reaped after `--reap-after`), and with `follow` never; it
/// looks again when the context's bell rings (a push or a give-back announced by the
/// database, a reap, the stop) and at least every heartbeat or ``WorkerTiming/poll``. Once
/// `halted` (Ctrl-C, or the quota stopped for a long wait) it ends at once: what it claimed
/// and did not hand out goes back with the worker's chunks. A claim waits out a database
/// outage. It throws `QueueError` (`batch_replaced`) once the batch is not the push the
/// worker serves.
struct ClaimFeed: AsyncSequence, Sendable {
    let context: WorkerContext
    /// Whether the run stopped admitting work.
    let halted: @Sendable () -> Bool
    let follow: Bool

    struct AsyncIterator: AsyncIteratorProtocol {
        let feed: ClaimFeed
        var buffer: ArraySlice<QueueItem> = []

        mutating func next() async throws -> BatchItem<APIRequest>? {
            let context = feed.context
            while !feed.halted() {
                guard context.stillServing() else { throw QueueError.batchReplaced(context.queue.batch) }
                if !buffer.isEmpty {
                    if let item = try await handOut() { return item }
                    continue
                }
                if try await claim() { continue }
                switch try await feed.afterEmptyClaim() {
                case .claimAgain: continue
                case .wait(let duration): await context.wake.wait(upTo: duration)
                case .end: return nil
                }
            }
            return nil
        }

        /// The first buffered item, if the worker may send it; `nil` when it was not handed
        /// out (its chunk was lost and its items dropped, it is not a request, or the worker
        /// had to ask the database first).
        private mutating func handOut() async throws -> BatchItem<APIRequest>? {
            guard let item = buffer.first else { return nil }
            let ledger = feed.context.ledger
            switch ledger.verdict(for: item.chunk, at: .now) {
            case .holds:
                buffer.removeFirst()
                return feed.batchItem(item)
            case .ask:
                try await feed.context.heartbeat(what: "check that this worker still holds its chunks")
                return nil
            case .lost:
                let before = buffer.count
                buffer = buffer.filter { $0.chunk != item.chunk }[...]
                ledger.droppedUnsent(before - buffer.count)
                return nil
            }
        }

        /// Claims the next chunk into the buffer; `false` when none is pending (or, with
        /// `--follow`, there is no batch yet).
        private mutating func claim() async throws -> Bool {
            let context = feed.context
            let (queue, worker, ledger) = (context.queue, context.worker, context.ledger)
            guard let generation = ledger.generation else {
                // A following worker started before the push: adopt the batch once it is there.
                let info = try await context.retrying("find the batch") { try await queue.info() }
                guard let info else { return false }
                ledger.check(generation: info.generation)
                return true
            }
            let (sentAt, claimed) = try await context.retrying("claim work") {
                let sentAt = ContinuousClock.now
                return (sentAt, try await queue.claimChunk(for: worker, generation: generation))
            }
            guard let claimed else { return false }
            let chunk = try await context.retrying("read the claimed items") { try await queue.items(of: claimed) }
            ledger.opened(chunk, reaps: claimed.reaps, sentAt: sentAt)
            buffer = chunk.items[...]
            return true
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(feed: self) }

    /// Nothing was pending: gives back the chunks this worker holds without knowing (a claim
    /// whose answer an outage lost), reaps workers gone quiet, and asks the database where
    /// the batch stands.
    func afterEmptyClaim() async throws -> DrainRule.Step {
        let (queue, worker, ledger) = (context.queue, context.worker, context.ledger)
        let known = ledger.openChunks
        let forgotten = try await context.retrying("give back chunks claimed during an outage") {
            try await queue.releaseForgotten(by: worker, keeping: known)
        }
        if forgotten > 0 { return .claimAgain }
        if try await context.heartbeat(what: "look for work of workers gone quiet").returnedChunks > 0 {
            return .claimAgain
        }
        let outlook = try await context.retrying("see whether the batch is done") {
            try await queue.outlook(for: worker)
        }
        ledger.check(generation: outlook.generation)
        guard context.stillServing() else { return .claimAgain }
        let rule = DrainRule(follow: follow, poll: context.timing.poll, recheck: context.timing.heartbeat)
        return rule.step(after: outlook)
    }

    /// The runner's item for a stored one; `nil` (with its failure recorded) for one that is not
    /// a request, which `pacer queue push` never stores.
    func batchItem(_ item: QueueItem) -> BatchItem<APIRequest>? {
        if let endpoint = APIEndpoint(batchURL: item.url), let body = try? JSONValue(parsing: item.body) {
            return BatchItem(index: Int(item.seq), id: item.customID, input: APIRequest(endpoint: endpoint, body: body))
        }
        let error = InputError(
            file: "batch '\(context.queue.batch)'",
            message: "item \(item.seq + 1) is not a request Pacer can send (url \(item.url))"
        )
        context.ledger.add(
            seq: item.seq,
            success: false,
            line: BatchAPILine.invalid(id: item.customID, error: error).jsonLine,
            attempts: 0
        )
        return nil
    }
}

extension OutputRecord {
    /// The line's JSON text, as an output file has it (without the newline).
    package var jsonLine: String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(512)
        try? appendJSON(to: &bytes, encoder: JSONEncoder())
        return String(decoding: bytes, as: UTF8.self)
    }
}
