import Foundation
import PostgresNIO

extension BatchQueue {
    /// The channel on which pushes, given-back chunks and reopened failures are announced
    /// (`NOTIFY pacer_queue, 'BATCH'`), so that waiting workers claim at once.
    static let channel = "pacer_queue"

    /// Calls `onWork` whenever work may have become claimable in this batch (items pushed,
    /// chunks given back, failures reopened), until cancelled; listens again after an
    /// outage. A notification is a hint: a worker that misses one still looks every
    /// ``WorkerTiming``-poll.
    public func listenForWork(_ onWork: @escaping @Sendable () -> Void) async throws {
        while !Task.isCancelled {
            do {
                try await database.client.withConnection { connection in
                    try await connection.listen(on: Self.channel) { notifications in
                        // Listening now: anything pushed before is claimable already.
                        onWork()
                        for try await notification in notifications where notification.payload == batch {
                            onWork()
                        }
                    }
                }
            } catch is CancellationError {
                return
            } catch {
                database.logger.debug("queue listener: \(error); listening again in 1 s")
            }
            try await Task.sleep(for: .seconds(1))
        }
    }
}
