import Foundation
import Logging
import PacerCore
import PacerJSON
import PacerJobs
import PacerOpenAI
import PacerPostgres

/// A batch that `pacer worker`s send (`pacer serve --db`): the server pushes its lines to the
/// queue under the batch's id, follows its counts, stops its chunks not started when told to,
/// and exports its results into the journal files, which then end as in the embedded mode.
extension ServedBatch {
    /// How often the queue's counts are read while workers drain the batch.
    static var queuePoll: Duration { .seconds(1) }

    /// Pushes the batch (unless an earlier start did: a push is one transaction) and waits
    /// until every chunk is done; a stop marks the chunks not started done.
    func runInQueue(_ context: BatchContext, _ database: QueueDatabase) async {
        let queue = BatchQueue(database: database, batch: id)
        var pushed = false
        var stopped = false
        while !isShuttingDown {
            do {
                if !pushed {
                    try await push(to: queue)
                    pushed = true
                }
                if stopRequested, !stopped {
                    try await queue.cancelPending()
                    stopped = true
                }
                if let status = try await queue.status() {
                    setQueueCounts(completed: status.succeeded, failed: status.failed)
                }
                if try await queue.unfinishedChunks() == 0 {
                    handle(.runEnded)
                    return
                }
            } catch {
                logger.warning("the queue could not be read or written (\(error)); trying again")
            }
            guard await pause(Self.queuePoll) else { return }
        }
    }

    private func push(to queue: BatchQueue) async throws {
        try await queue.prepareSchema()
        if let info = try await queue.info(), info.items > 0 { return }
        let source = try ItemSource(path: inputURL.path, format: .batch, parser: .batchAPI(only: endpoint))
        let rows = source.map { item in
            PushRow(customID: item.id, url: item.input.endpoint.batchURL, body: item.input.body.jsonText)
        }
        let (pushed, _) = try await queue.push(rows, chunkSize: 100)
        logger.info("pushed \(pushed) lines to the queue; pacer worker --batch \(id) (or '*') sends them")
    }

    /// Deletes the batch's rows from the queue once its results are the server's files, but
    /// not under a worker still running on it (it has stored everything, and is ending: a drop
    /// now would make it exit as if its batch had been taken away). Waits for such workers up
    /// to a minute (a killed one counts as gone 30 s after its last heartbeat), then leaves
    /// the rows, which hold nothing the files do not.
    func dropFromQueue(_ database: QueueDatabase) async {
        let queue = BatchQueue(database: database, batch: id)
        for _ in 0..<60 {
            guard let outcome = try? await queue.drop(force: false), outcome.runningWorkers > 0 else { return }
            try? await Task.sleep(for: .seconds(1))
            if isShuttingDown { return }
        }
        logger.warning("the queue's rows of this batch were kept: its workers did not end within a minute")
    }

    /// Writes the queue's results as the batch's output and errors, each under a temporary
    /// name renamed into place (a new file, never the one a finished batch's file links to).
    func exportFromQueue(_ database: QueueDatabase) async throws {
        let queue = BatchQueue(database: database, batch: id)
        let outputTemporary = folder.appendingPathComponent(".output-export")
        let errorsTemporary = folder.appendingPathComponent(".errors-export")
        for url in [outputTemporary, errorsTemporary] { try? FileManager.default.removeItem(at: url) }
        let output = try OutputWriter(path: outputTemporary.path)
        let errors = try OutputWriter(path: errorsTemporary.path)
        try await queue.forEachResult { success, line in
            try (success ? output : errors).write(StoredLine(text: line), flush: false)
        }
        try output.flush()
        try errors.flush()
        for (from, to) in [(outputTemporary, outputURL), (errorsTemporary, errorsURL)]
        where rename(from.path, to.path) != 0 {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: to.path])
        }
    }
}
