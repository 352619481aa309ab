import NIOCore
import PostgresNIO

/// An item to push: a Batch API line's `custom_id`, `url` and `body` (JSON text).
public struct PushRow: Sendable, Hashable {
    /// The line's `custom_id`.
    public var customID: String
    /// The line's `url`.
    public var url: String
    /// The line's `body`, as JSON text.
    public var body: String

    /// Creates a row.
    public init(customID: String, url: String, body: String) {
        self.customID = customID
        self.url = url
        self.body = body
    }
}

extension BatchQueue {
    /// Appends `rows` to the batch (creating it), in chunks of `chunkSize`, in one transaction:
    /// all of them or, if anything fails, none.
    ///
    /// The rows are streamed to the server with `COPY … FROM STDIN` in 64 KiB writes, so a
    /// million of them need no more memory than ten. Concurrent pushes to one batch take turns
    /// (the batch's row is locked until the commit), so their items never interleave.
    /// Seven round trips plus the COPY's writes (the last brings the planner's statistics up to date).
    ///
    /// - Returns: How many items were pushed, and how many the batch now holds.
    /// - Throws: ``QueueError`` (`duplicate_id`) when an id is already in the batch; the rows'
    ///   own error when reading them fails (nothing is pushed).
    public func push<Rows: AsyncSequence>(
        _ rows: Rows,
        chunkSize: Int
    ) async throws -> (pushed: Int, total: Int) where Rows.Element == PushRow {
        precondition(chunkSize >= 1, "chunkSize must be at least 1")
        do {
            let pushed = try await database.transaction(statements: 5) { connection in
                let logger = database.logger
                var start = (items: 0, chunks: 0)
                // Creates the batch (with a new generation), or locks its row until the commit.
                // The update leaves the key alone, so the lock does not wait for workers'
                // stores (which hold the row FOR KEY SHARE) nor hold them up.
                for try await row in try await connection.query(
                    """
                    INSERT INTO pacer_batches (name) VALUES (\(batch))
                    ON CONFLICT (name) DO UPDATE SET items = pacer_batches.items
                    RETURNING items, chunks
                    """,
                    logger: logger
                ).decode((Int, Int).self) {
                    start = row
                }
                var count = 0
                try await connection.copyFrom(
                    table: "pacer_items",
                    columns: ["batch", "seq", "custom_id", "url", "body"],
                    logger: logger
                ) { writer in
                    var buffer = ByteBufferAllocator().buffer(capacity: 80 * 1024)
                    let batchField = CopyText.escaped(batch)
                    for try await row in rows {
                        buffer.writeString(batchField)
                        buffer.writeString("\t\(start.items + count)\t")
                        buffer.writeString(CopyText.escaped(row.customID))
                        buffer.writeInteger(UInt8(ascii: "\t"))
                        buffer.writeString(CopyText.escaped(row.url))
                        buffer.writeInteger(UInt8(ascii: "\t"))
                        buffer.writeString(CopyText.escaped(row.body))
                        buffer.writeInteger(UInt8(ascii: "\n"))
                        count += 1
                        if buffer.readableBytes >= 64 * 1024 {
                            try await writer.write(buffer)
                            buffer.clear()
                        }
                    }
                    if buffer.readableBytes > 0 { try await writer.write(buffer) }
                }
                let chunks = (count + chunkSize - 1) / chunkSize
                try await connection.query(
                    """
                    INSERT INTO pacer_chunks (batch, chunk, first_seq, last_seq)
                    SELECT \(batch), \(start.chunks) + g, \(start.items) + g * \(chunkSize)::bigint,
                        least(\(start.items) + (g + 1) * \(chunkSize)::bigint, \(start.items + count)) - 1
                    FROM generate_series(0, \(chunks - 1)) AS g
                    """,
                    logger: logger
                )
                try await connection.query(
                    "UPDATE pacer_batches SET items = \(start.items + count), chunks = \(start.chunks + chunks) WHERE name = \(batch)",
                    logger: logger
                )
                // Delivered at the commit, to workers waiting with --follow.
                try await connection.query("SELECT pg_notify('pacer_queue', \(batch))", logger: logger)
                return (count, start.items + count)
            }
            // A bulk load leaves the planner's statistics behind (autovacuum analyses later):
            // bring them up to date now, so that the first claims are planned on them.
            try await database.query("ANALYZE pacer_items, pacer_chunks")
            return pushed
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw QueueError.duplicate(batch, detail: error.serverInfo?[.detail] ?? "a duplicate key")
        }
    }
}

/// Values in `COPY`'s text format.
enum CopyText {
    /// `value` with backslash, tab, newline and carriage return escaped.
    static func escaped(_ value: String) -> String {
        guard value.utf8.contains(where: { $0 == 0x5C || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) else { return value }
        var result = ""
        result.reserveCapacity(value.utf8.count + 8)
        for character in value.unicodeScalars {
            switch character {
            case "\\": result += "\\\\"
            case "\t": result += "\\t"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            default: result.unicodeScalars.append(character)
            }
        }
        return result
    }
}
