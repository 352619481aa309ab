import Foundation
import PacerCore
import PacerHTTP
import PacerJobs
import PacerOpenAI
import PacerPostgres

/// A worker's items: claimed from the batch a chunk at a time, as the runner asks for them.
///
/// When no chunk is pending, the chunks a lost answer left claimed by this worker go back, and
/// the reaper runs once (a dead worker's chunks become pending); then the feed ends, or with
/// `follow` looks again when `wake` rings (a push or a give-back announced by the database,
/// or the stop) and at least every ``WorkerTiming/poll``. Once `stopping` opens it ends at once:
/// what it claimed and did not hand out goes back with the worker's chunks. A claim waits out
/// a database outage.
struct ClaimFeed: AsyncSequence, Sendable {
    let context: WorkerContext
    let ledger: ChunkLedger
    let stopping: Latch
    let follow: Bool
    /// Rung when work may have become claimable, and when `stopping` opens.
    let wake: Bell

    struct AsyncIterator: AsyncIteratorProtocol {
        let feed: ClaimFeed
        var buffer: ArraySlice<QueueItem> = []

        mutating func next() async throws -> BatchItem<APIRequest>? {
            while !feed.stopping.isOpen {
                if let item = buffer.popFirst() {
                    if let batchItem = feed.batchItem(item) { return batchItem }
                    continue
                }
                let context = feed.context
                let queue = context.queue
                if let range = try await context.retrying(
                    "claim work",
                    { try await queue.claimChunk(for: context.worker) }
                ) {
                    let chunk = try await context.retrying("read the claimed items") {
                        try await queue.items(of: range)
                    }
                    feed.ledger.opened(chunk)
                    buffer = chunk.items[...]
                    continue
                }
                // Nothing pending. Chunks this worker holds without knowing (a claim whose answer
                // an outage lost) go back first; then those of workers gone quiet.
                let ledger = feed.ledger
                let forgotten = try await context.retrying("give back chunks claimed during an outage") {
                    try await queue.releaseForgotten(by: context.worker, keeping: ledger.openChunks)
                }
                if forgotten > 0 { continue }
                if try await context.heartbeat(what: "look for work of workers gone quiet").returnedChunks > 0 {
                    continue
                }
                guard feed.follow else { return nil }
                await feed.wake.wait(upTo: context.timing.poll)
            }
            return nil
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(feed: self) }

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
        ledger.add(
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
    var jsonLine: String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(512)
        try? appendJSON(to: &bytes, encoder: JSONEncoder())
        return String(decoding: bytes, as: UTF8.self)
    }
}
