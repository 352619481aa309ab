import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// The batches of a server, and the service that runs them: each batch's work is a child task
/// of ``run()``, for the batch's life. At a graceful shutdown every run drains (its requests
/// in flight finish within the grace) and stops where it is; the next start on the same data
/// folder finds each batch and goes on (``ServedBatchStateMachine/Event/restarted``).
final class BatchService: Service, Sendable {
    /// The batches' records and journals.
    let store: BatchStore
    private let context: BatchContext?
    private let logger: Logger
    private let batches: Mutex<[String: ServedBatch]>
    private let lastSerial: Mutex<Int>
    private let started: AsyncStream<ServedBatch>
    private let startedContinuation: AsyncStream<ServedBatch>.Continuation

    /// The batches found in `store`; those not over go on once ``run()`` runs (with no
    /// `backend`, the server keeps files only and runs nothing).
    init(store: BatchStore, files: FileStore, backend: BatchBackend?, logger: Logger) {
        self.store = store
        self.logger = logger
        context = backend.map { BatchContext(files: files, backend: $0) }
        (started, startedContinuation) = AsyncStream.makeStream(of: ServedBatch.self)
        var found: [String: ServedBatch] = [:]
        for record in store.load() {
            let batch = ServedBatch(record: record, store: store, logger: logger)
            found[record.id] = batch
            if record.machine.status.isFinal {
                // A kill between the last save and this cleanup left them.
                batch.removeWorkFiles()
            } else {
                startedContinuation.yield(batch)
                batch.handle(.restarted)
            }
        }
        batches = Mutex(found)
        lastSerial = Mutex(found.values.map(\.record.serial).max() ?? 0)
    }

    /// The serial for a new batch: one past every batch's.
    func nextSerial() -> Int {
        lastSerial.withLock { last in
            last += 1
            return last
        }
    }

    /// Whether batches can be created (the server has a backend).
    var runsBatches: Bool { context != nil }

    /// Adds a new batch (its record saved, its input linked) and starts validating it.
    func add(_ record: BatchRecord) {
        let batch = ServedBatch(record: record, store: store, logger: logger)
        batches.withLock { $0[record.id] = batch }
        startedContinuation.yield(batch)
        batch.begin()
    }

    /// The batch `id` if `owner` created it.
    func batch(_ id: String, owner: KeyOwner) -> ServedBatch? {
        batches.withLock { $0[id] }.flatMap { $0.record.owner == owner ? $0 : nil }
    }

    /// `owner`'s batches, newest first, after the batch `after` if given.
    func list(owner: KeyOwner, after: String?, limit: Int) -> (batches: [ServedBatch], hasMore: Bool) {
        var mine = batches.withLock { Array($0.values) }.filter { $0.record.owner == owner }
        mine.sort { $0.record.serial > $1.record.serial }
        if let after, let index = mine.firstIndex(where: { $0.id == after }) {
            mine = Array(mine[(index + 1)...])
        }
        return (Array(mine.prefix(limit)), mine.count > limit)
    }

    /// Every batch, for the status page.
    var all: [ServedBatch] { batches.withLock { Array($0.values) } }

    /// Runs each batch's work until a graceful shutdown, then lets every run drain.
    func run() async throws {
        guard let context else {
            try await gracefulShutdown()
            return
        }
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                for await batch in started {
                    group.addTask { await batch.drive(context) }
                }
            }
        } onGracefulShutdown: {
            self.startedContinuation.finish()
            for batch in self.all { batch.shutDown() }
        }
    }
}
