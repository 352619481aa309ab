import Foundation
import PacerCore
import PacerHTTP
import PacerJSON
import PacerOpenAI
import Synchronization

/// `pacer embed`'s feed: texts packed into embeddings requests (`EmbeddingPacker`), and each
/// answer unpacked into one line per text. A pack the server refuses as a whole is split
/// (`EmbeddingPack/split(after:)`) and its parts sent again, until the input it refused
/// stands alone: one bad text fails one line.
package struct EmbeddingFeed: JobFeed {
    package let limits: EmbeddingPacker.Limits
    /// Packs split for sending again, and the packs not yet finished.
    package let queue = PackQueue()
    /// Texts written, for the summary.
    package let succeeded = Tally()
    package let failed = Tally()
    package let cancelled = Tally()

    /// A feed that packs texts within `limits`.
    package init(limits: EmbeddingPacker.Limits) {
        self.limits = limits
    }

    package func units(from source: ItemSource<EmbeddingInput>) -> PackedItems {
        PackedItems(source: source, limits: limits, queue: queue)
    }

    package func lines(
        for unit: BatchItem<EmbeddingPack>,
        result: ItemResult<EmbeddingPackResult>
    ) -> [(line: any OutputRecord, success: Bool)] {
        let pack = unit.input
        defer { queue.finished() }
        switch result.outcome {
        case .success(let answer):
            succeeded.add(pack.inputs.count)
            let shares = answer.tokenShares(of: pack)
            return zip(pack.inputs, zip(answer.embeddings, shares)).map { input, pair in
                let line = EmbeddingLine(
                    id: input.id,
                    embedding: pair.0,
                    tokens: pair.1,
                    model: answer.model,
                    attempts: result.attempts,
                    cached: answer.isCached
                )
                return (line, true)
            }
        case .failure(let error):
            if error.kind == .cancelled {
                cancelled.add(pack.inputs.count)
                return []
            }
            if let parts = pack.split(after: error) {
                queue.requeue(parts)
                return []
            }
            failed.add(pack.inputs.count)
            return pack.inputs.map { input in
                var line = OutputLine(result)
                line.id = input.id
                line.index = nil
                return (line, false)
            }
        }
    }

    package var unitsAreItems: Bool { false }

    package func itemCount(of unit: BatchItem<EmbeddingPack>) -> Int { unit.input.inputs.count }

    /// Items are texts, not requests: a split pack's first refusal is neither a success nor a
    /// failure of its texts.
    package func adjust(_ summary: inout BatchSummary) {
        summary.succeeded = succeeded.count
        summary.failed = failed.count
        summary.cancelled = cancelled.count
        summary.total = succeeded.count + failed.count + cancelled.count
        summary.itemsPerSecond = summary.wallSeconds > 0 ? Double(summary.total) / summary.wallSeconds : 0
    }
}

/// An embed output line: `{"id", "embedding", "usage": {"prompt_tokens", "total_tokens"},
/// "model", "success": true, "attempts"}`; `usage` is the text's share of its request's, and
/// `"cached": true` is added when the pack's answer came from the response cache.
package struct EmbeddingLine: OutputRecord {
    package var id: String
    package var embedding: JSONValue
    package var tokens: Int
    package var model: String
    package var attempts: Int
    package var cached = false

    package func appendJSON(to output: inout [UInt8], encoder: JSONEncoder) {
        var fields = JSONFieldWriter()
        fields.number("attempts", attempts)
        if cached { fields.value("cached", .bool(true)) }
        fields.value("embedding", embedding)
        fields.string("id", id)
        fields.string("model", model)
        fields.value("success", .bool(true))
        var usage = JSONFieldWriter()
        usage.number("prompt_tokens", tokens)
        usage.number("total_tokens", tokens)
        fields.raw("usage", usage.finish())
        output.append(contentsOf: fields.finish())
    }
}

/// Packs split to be sent again, and how many packs are out (handed to the runner and not
/// finished): the packed input ends only when the texts are read and no pack is out, since
/// any pack out may still come back in parts.
package final class PackQueue: Sendable {
    private struct State {
        var splits: [EmbeddingPack] = []
        var outstanding = 0
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    /// A pack was handed to the runner.
    package func started() { state.withLock { $0.outstanding += 1 } }

    /// A pack finished (written, failed, stopped, or split into ``requeue(_:)``'s parts).
    package func finished() {
        let waiter = state.withLock { state in
            state.outstanding -= 1
            return state.waiter.take()
        }
        waiter?.resume()
    }

    /// Parts of a refused pack, to send before any new pack.
    package func requeue(_ parts: [EmbeddingPack]) {
        let waiter = state.withLock { state in
            state.splits.append(contentsOf: parts)
            return state.waiter.take()
        }
        waiter?.resume()
    }

    /// A split part to send now, counted as out.
    package func takeSplit() -> EmbeddingPack? {
        state.withLock { state in
            guard !state.splits.isEmpty else { return nil }
            state.outstanding += 1
            return state.splits.removeFirst()
        }
    }

    /// Waits until a part is ready or no pack is out; returns whether the input has ended.
    package func waitForPartsOrEnd() async -> Bool {
        while true {
            var ended = false
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state in
                    if !state.splits.isEmpty || state.outstanding <= 0 {
                        ended = state.splits.isEmpty
                        return true
                    }
                    state.waiter = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
            if ended { return true }
            if state.withLock({ !$0.splits.isEmpty }) { return false }
        }
    }
}

/// The packed input: split parts first, then new packs from the texts in input order, until
/// both run out.
package struct PackedItems: AsyncSequence, Sendable {
    package let source: ItemSource<EmbeddingInput>
    package let limits: EmbeddingPacker.Limits
    package let queue: PackQueue

    package func makeAsyncIterator() -> Iterator {
        Iterator(inner: source.makeAsyncIterator(), packer: EmbeddingPacker(limits: limits), queue: queue)
    }

    package struct Iterator: AsyncIteratorProtocol {
        package var inner: ItemSource<EmbeddingInput>.AsyncIterator
        package var packer: EmbeddingPacker
        package let queue: PackQueue
        package var sourceEnded = false
        package var sent = 0

        package mutating func next() async throws -> BatchItem<EmbeddingPack>? {
            while true {
                if let part = queue.takeSplit() { return item(part) }
                if !sourceEnded {
                    while let text = try await inner.next() {
                        // The item's id (the line number when the line gives none).
                        if let pack = packer.add(EmbeddingInput(id: text.id, text: text.input.text)) {
                            queue.started()
                            return item(pack)
                        }
                    }
                    sourceEnded = true
                    if let pack = packer.flush() {
                        queue.started()
                        return item(pack)
                    }
                }
                if await queue.waitForPartsOrEnd() { return nil }
            }
        }

        private mutating func item(_ pack: EmbeddingPack) -> BatchItem<EmbeddingPack> {
            defer { sent += 1 }
            let first = pack.inputs.first?.id ?? ""
            let id = pack.inputs.count > 1 ? "\(first) (+\(pack.inputs.count - 1))" : first
            return BatchItem(index: sent, id: id, input: pack)
        }
    }
}
