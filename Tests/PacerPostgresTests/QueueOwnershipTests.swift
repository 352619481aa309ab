import Foundation
import PacerTesting
import PostgresNIO
import Testing

@testable import PacerPostgres

/// Issue 20: results belong to one push of a batch and to the worker that holds the chunk;
/// the schema that says so upgrades a database of the first version in place.
@Suite(.timeLimit(.minutes(2))) struct QueueOwnershipTests {
    /// `count` rows with ids `req-0`….
    func rows(_ count: Int) -> AsyncStream<PushRow> {
        AsyncStream { continuation in
            for index in 0..<count {
                continuation.yield(PushRow(customID: "req-\(index)", url: "/v1/chat/completions", body: "{}"))
            }
            continuation.finish()
        }
    }

    /// A result for item `seq` of `chunk`.
    func result(_ seq: Int64, chunk: Int64) -> StoredResult {
        StoredResult(seq: seq, chunk: chunk, success: true, line: "{\"seq\":\(seq)}", attempts: 1)
    }

    /// Runs `body` with batch `b` pushed: `count` items in chunks of `chunkSize`.
    func withBatch(
        _ count: Int,
        chunkSize: Int,
        _ body: (BatchQueue) async throws -> Void
    ) async throws {
        try await withPostgres { server in
            try await QueueDatabase.withDatabase(try DatabaseURL(server.url)) { database in
                let queue = BatchQueue(database: database, batch: "b")
                try await queue.prepareSchema()
                _ = try await queue.push(rows(count), chunkSize: chunkSize)
                try await body(queue)
            }
        }
    }

    @Test func aQueueOfTheFirstVersionIsUpgradedKeepingItsRows() async throws {
        try await withPostgres { server in
            try await QueueDatabase.withDatabase(try DatabaseURL(server.url)) { database in
                let first = SchemaMigration(
                    name: "queue",
                    versionTable: "pacer_schema",
                    steps: [QueueSchema.statements]
                )
                try await first.prepare(database)
                try await database.query("INSERT INTO pacer_batches (name, items, chunks) VALUES ('old', 3, 1)")
                try await database.query(
                    "INSERT INTO pacer_workers (id, batch, host, pid) VALUES (gen_random_uuid(), 'old', 'h', 1)"
                )
                let old = BatchQueue(database: database, batch: "old")
                try await old.prepareSchema()
                var version = 0
                for try await value in try await database.query("SELECT max(version) FROM pacer_schema")
                    .decode(Int.self)
                {
                    version = value
                }
                #expect(version == 2 && QueueSchema.migration.version == 2)
                let kept = try #require(try await old.info())
                #expect(kept.items == 3 && kept.chunks == 1)
                var workers: [(Int, Double)] = []
                for try await row in try await database.query("SELECT reaps, reap_after FROM pacer_workers")
                    .decode((Int, Double).self)
                {
                    workers.append(row)
                }
                #expect(workers.count == 1 && workers.first?.0 == 0 && workers.first?.1 == 0)
                // A batch created now gets a generation of its own.
                let new = BatchQueue(database: database, batch: "new")
                _ = try await new.push(rows(2), chunkSize: 1)
                #expect(try await new.info()?.generation != kept.generation)
            }
        }
    }

    /// A worker the reaper took for gone stores nothing of the chunks it held, learns it from
    /// the reap count, and the worker that has the chunk now stores them.
    @Test func aStoreFromAWorkerThatWasReapedIsRefused() async throws {
        try await withBatch(4, chunkSize: 2) { queue in
            let generation = try #require(try await queue.info()).generation
            let (frozen, other) = (WorkerIdentity.current(), WorkerIdentity.current())
            #expect(try await queue.heartbeat(frozen, generation: generation).reaps == 0)
            _ = try await queue.heartbeat(other, generation: generation)
            let claimed = try #require(try await queue.claimChunk(for: frozen, generation: generation))
            #expect(claimed.chunk == 0 && claimed.reaps == 0)
            // Frozen for an hour (on the database's clock).
            try await queue.database.query(
                "UPDATE pacer_workers SET heartbeat_at = now() - interval '1 hour' WHERE id = \(frozen.id)"
            )
            let reaped = try await queue.heartbeat(other, generation: generation, reapAfter: .seconds(1))
            #expect(reaped.lostWorkers == 1 && reaped.returnedChunks == 1)
            let refused = try await queue.store(
                [result(0, chunk: 0)],
                finishedChunks: [],
                for: frozen,
                generation: generation
            )
            #expect(refused.inserted == 0 && refused.held.isEmpty && refused.reaps == 1 && refused.batchFound)
            #expect(try await queue.heartbeat(frozen, generation: generation).reaps == 1)
            let taken = try #require(try await queue.claimChunk(for: other, generation: generation))
            #expect(taken.chunk == 0)
            let stored = try await queue.store(
                [result(0, chunk: 0), result(1, chunk: 0)],
                finishedChunks: [0],
                for: other,
                generation: generation
            )
            #expect(stored.inserted == 2 && stored.finished == 1 && stored.held == [0] && stored.reaps == 0)
            // The frozen worker, back, claims the next chunk as a running worker.
            let next = try #require(try await queue.claimChunk(for: frozen, generation: generation))
            #expect(next.chunk == 1 && next.reaps == 1)
            let status = try #require(try await queue.status())
            #expect(status.workers.allSatisfy { $0.state == "running" })
        }
    }

    /// A worker is reaped only after its own `--reap-after`, when that is longer than the
    /// reaper's: its trust in its chunks is measured against its own setting.
    @Test func aWorkerIsNotReapedBeforeItsOwnReapAfter() async throws {
        try await withBatch(2, chunkSize: 2) { queue in
            let generation = try #require(try await queue.info()).generation
            let (patient, reaper) = (WorkerIdentity.current(), WorkerIdentity.current())
            _ = try await queue.heartbeat(patient, generation: generation, ownReapAfter: .seconds(600))
            _ = try #require(try await queue.claimChunk(for: patient, generation: generation))
            try await queue.database.query(
                "UPDATE pacer_workers SET heartbeat_at = now() - interval '100 seconds' WHERE id = \(patient.id)"
            )
            let first = try await queue.heartbeat(reaper, generation: generation, reapAfter: .seconds(1))
            #expect(first.lostWorkers == 0 && first.returnedChunks == 0)
            let outlook = try await queue.outlook(for: reaper)
            #expect(outlook == BatchOutlook(generation: generation, pending: 0, heldByOthers: 1))
            #expect(try await queue.outlook(for: patient).heldByOthers == 0)
            try await queue.database.query(
                "UPDATE pacer_workers SET heartbeat_at = now() - interval '700 seconds' WHERE id = \(patient.id)"
            )
            let second = try await queue.heartbeat(reaper, generation: generation, reapAfter: .seconds(1))
            #expect(second.lostWorkers == 1 && second.returnedChunks == 1)
        }
    }

    /// A batch dropped while its worker runs and pushed again under the same name: the old
    /// worker stores nothing in it, claims nothing of it, and is not registered in it again.
    @Test func aWorkerOfADroppedBatchStoresNothingInTheOnePushedAgain() async throws {
        try await withBatch(4, chunkSize: 2) { queue in
            let old = try #require(try await queue.info()).generation
            let worker = WorkerIdentity.current()
            _ = try await queue.heartbeat(worker, generation: old)
            let claimed = try #require(try await queue.claimChunk(for: worker, generation: old))
            let drop = try await queue.drop(force: true)
            #expect(drop.dropped && drop.runningWorkers == 1)
            _ = try await queue.push(rows(4), chunkSize: 2)
            let new = try #require(try await queue.info()).generation
            #expect(new != old)
            let refused = try await queue.store(
                [result(0, chunk: claimed.chunk)],
                finishedChunks: [claimed.chunk],
                for: worker,
                generation: old
            )
            #expect(!refused.batchFound && refused.inserted == 0 && refused.reaps == nil)
            #expect(try await queue.claimChunk(for: worker, generation: old) == nil)
            let beat = try await queue.heartbeat(worker, generation: old, reapAfter: .seconds(1))
            #expect(beat.generation == new && beat.reaps == nil)
            let status = try #require(try await queue.status())
            #expect(status.done == 0 && status.inFlight == 0 && status.workers.isEmpty)
            #expect(try await queue.outlook(for: worker) == BatchOutlook(generation: new, pending: 2, heldByOthers: 0))
        }
    }
}
