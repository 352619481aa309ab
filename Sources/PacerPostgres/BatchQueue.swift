import Foundation
import PostgresNIO

/// One batch in the queue's database: what `pacer queue push` loads, workers claim in chunks
/// and store results for, and `pacer queue status` and `export` read.
///
/// Every method is one round trip unless it says otherwise, and none retries by itself:
/// wrap calls in ``QueueDatabase/retrying(_:abandonAfter:onOutage:_:)`` to wait out an outage.
public struct BatchQueue: Sendable {
    /// The database.
    public let database: QueueDatabase
    /// The batch's name.
    public let batch: String

    /// The batch `name` in `database`.
    public init(database: QueueDatabase, batch: String) {
        self.database = database
        self.batch = batch
    }

    /// Creates the queue's tables unless they exist (see `QueueSchema`).
    ///
    /// - Throws: ``QueueError`` when the database holds a schema newer than this Pacer's.
    public func prepareSchema() async throws {
        try await QueueSchema.migration.prepare(database)
    }

    /// The batch's size, or `nil` when nothing was pushed to it.
    public func info() async throws -> BatchInfo? {
        try await unlessUnused {
            let rows = try await database.query(
                "SELECT items, chunks, generation FROM pacer_batches WHERE name = \(batch)"
            )
            var info: BatchInfo?
            for try await (items, chunks, generation) in rows.decode((Int, Int, Int64).self) {
                info = BatchInfo(items: items, chunks: chunks, generation: generation)
            }
            return info
        }
    }

    /// `body`'s answer, or `nil` in a database the queue never used (its tables are missing).
    func unlessUnused<T: Sendable>(_ body: () async throws -> T?) async throws -> T? {
        do {
            return try await body()
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "42P01" {
            return nil
        }
    }
}

/// A batch's size.
public struct BatchInfo: Sendable, Hashable {
    /// The items pushed to it.
    public var items: Int
    /// The chunks they are claimed in.
    public var chunks: Int
    /// Which push created the batch: new each time a batch of this name is created (after a
    /// drop, say), the same for pushes that add to it.
    public var generation: Int64
}

/// One pushed item, as a worker claims it.
public struct QueueItem: Sendable, Hashable {
    /// Its position in the batch (0-based, in push order): the key of its result.
    public var seq: Int64
    /// The chunk it is claimed with.
    public var chunk: Int64
    /// The Batch API line's `custom_id`.
    public var customID: String
    /// The line's `url` (`/v1/chat/completions`, …).
    public var url: String
    /// The line's `body`, as JSON text.
    public var body: String

    /// Creates an item.
    public init(seq: Int64, chunk: Int64, customID: String, url: String, body: String) {
        self.seq = seq
        self.chunk = chunk
        self.customID = customID
        self.url = url
        self.body = body
    }
}

/// A chunk a worker claimed: its number and its range of items.
public struct ClaimedRange: Sendable, Hashable {
    /// The chunk's number in the batch.
    public var chunk: Int64
    /// Its first item's position.
    public var firstSeq: Int64
    /// Its last item's position.
    public var lastSeq: Int64
    /// How many times the reaper had taken the worker's chunks when it claimed this one (its
    /// row's `reaps`); `nil` when the worker has no row. A later answer with a higher count
    /// means the chunk went back to the batch.
    public var reaps: Int?
}

/// A chunk a worker claimed, with its items that have no result yet (none, when another
/// worker stored them all before the chunk was returned).
public struct ClaimedChunk: Sendable, Hashable {
    /// The chunk's number in the batch.
    public var chunk: Int64
    /// Its items without a result, in batch order.
    public var items: [QueueItem]

    /// Creates a chunk.
    public init(chunk: Int64, items: [QueueItem]) {
        self.chunk = chunk
        self.items = items
    }
}

/// An item's outcome, as stored.
public struct StoredResult: Sendable, Hashable {
    /// The item's position in the batch.
    public var seq: Int64
    /// The item's chunk.
    public var chunk: Int64
    /// Whether it succeeded (its line belongs to the output, not the errors file).
    public var success: Bool
    /// The output line, as a file run writes it (without the newline).
    public var line: String
    /// The attempts the item took.
    public var attempts: Int

    /// Creates a result.
    public init(seq: Int64, chunk: Int64, success: Bool, line: String, attempts: Int) {
        self.seq = seq
        self.chunk = chunk
        self.success = success
        self.line = line
        self.attempts = attempts
    }
}

/// Who a worker is, in `pacer_workers` and in `pacer queue status`.
public struct WorkerIdentity: Sendable, Hashable {
    /// A new id per worker process.
    public var id: UUID
    /// The machine's name.
    public var host: String
    /// The process id.
    public var pid: Int

    /// This process, with a new id.
    public static func current() -> WorkerIdentity {
        WorkerIdentity(
            id: UUID(),
            host: ProcessInfo.processInfo.hostName,
            pid: Int(ProcessInfo.processInfo.processIdentifier)
        )
    }
}

/// A queue operation that cannot be done; the message says what to do instead.
public struct QueueError: Error, CustomStringConvertible, Sendable, Hashable {
    /// A stable name for the kind of problem.
    public var kind: String
    /// What is wrong and what to do.
    public var description: String

    static func newerSchema(_ part: String, found: Int, known: Int) -> QueueError {
        QueueError(
            kind: "newer_schema",
            description:
                "the database holds Pacer's \(part) schema version \(found), newer than this Pacer's (\(known)); upgrade pacer"
        )
    }

    static func noSuchBatch(_ name: String, database: DatabaseURL) -> QueueError {
        QueueError(
            kind: "no_such_batch",
            description:
                "no batch '\(name)' in \(database); push one first: pacer queue push FILE --db URL --batch \(name)"
        )
    }

    /// A worker's batch is gone, or is another push of the same name: the worker must stop.
    public static func batchReplaced(_ batch: String) -> QueueError {
        QueueError(
            kind: "batch_replaced",
            description:
                "batch '\(batch)' was dropped (or dropped and pushed again) while this worker ran; the worker stops, "
                + "and what it had not stored is not stored. Start workers again for the batch as it is now"
        )
    }

    static func duplicate(_ batch: String, detail: String) -> QueueError {
        QueueError(
            kind: "duplicate_id",
            description:
                "batch '\(batch)' already holds an item with one of these ids (\(detail)); nothing was pushed. "
                + "Push new ids, or to a new --batch"
        )
    }
}
