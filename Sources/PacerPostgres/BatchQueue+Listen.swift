extension BatchQueue {
    /// The channel on which pushes, given-back chunks and reopened failures are announced
    /// (`NOTIFY pacer_queue, 'BATCH'`), so that waiting workers claim at once.
    static let channel = "pacer_queue"

    /// Calls `onWork` whenever work may have become claimable in this batch (items pushed,
    /// chunks given back, failures reopened), until cancelled; listens again after an
    /// outage. A notification is a hint: a worker that misses one still looks every
    /// `WorkerTiming`-poll.
    public func listenForWork(_ onWork: @escaping @Sendable () -> Void) async throws {
        let batch = batch
        // On (re)starting to listen, anything pushed meanwhile is claimable already: look.
        try await database.listen(on: Self.channel) { payload in
            if payload == nil || payload == batch { onWork() }
        }
    }
}
