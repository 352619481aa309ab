import Foundation
import PacerPostgres
import PacerSimulator
import PacerTesting
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension QueueSuites {
    /// Issue 20, run as a user runs it: real workers against the simulator and a throwaway
    /// PostgreSQL. A worker ends only when the batch is done, stores only into the push it
    /// serves and only for chunks it holds, sends nothing more of a chunk it lost, and says
    /// when to come back after a long wait.
    @Suite(.timeLimit(.minutes(3))) struct QueueOwnershipRunTests: QueueScratch {
        let directory: URL

        init() throws { directory = try makeScratchFolder() }

        /// A worker killed while it holds chunks, and another started at once: the survivor
        /// does the rest, waits until the dead one's chunks can be reaped (3 s), does them, and
        /// only then exits.
        @Test func aSurvivorWaitsForADeadWorkersChunksAndFinishesTheBatch() async throws {
            let count = 60
            try await withPostgres { database in
                try await push(count, chunkSize: 10, to: database)
                try await withSimulator(SimulatorConfiguration(latency: .milliseconds(20))) { server in
                    let flags =
                        workerFlags(database, batch: "b", baseURL: server.baseURL, reapAfter: 3) + [
                            "--concurrency", "4",
                        ]
                    let doomed = try PacerProcess(flags, stderrFile: directory.appendingPathComponent("doomed.txt"))
                    server.stats.when(requests: 6) { send(SIGKILL, to: doomed.pid) }
                    #expect(try await doomed.run().status == 128 + SIGKILL)
                    let survivor = try PacerProcess(flags, stderrFile: directory.appendingPathComponent("survivor.txt"))
                    let (exit, stderr) = try await survivor.run()
                    #expect(exit == 0, "\(stderr)")
                }
                let after = try #require(try await status(database, batch: "b"))
                #expect(after.succeeded == count && after.inFlight == 0 && after.pending == 0, "\(after)")
                #expect(after.workers.map(\.state) == ["lost", "stopped"])
            }
        }

        /// A chunk held by a live worker (heartbeating) keeps the other worker waiting; once it
        /// is given back, the other worker does it and exits.
        @Test func aWorkerWaitsForAChunkALiveWorkerHoldsAndDoesItWhenGivenBack() async throws {
            let count = 30
            try await withPostgres { database in
                try await push(count, chunkSize: 10, to: database)
                try await QueueDatabase.withDatabase(try DatabaseURL(database.url)) { connection in
                    let queue = BatchQueue(database: connection, batch: "b")
                    let generation = try #require(try await queue.info()).generation
                    let holder = WorkerIdentity.current()
                    _ = try await queue.heartbeat(holder, generation: generation)
                    _ = try #require(try await queue.claimChunk(for: holder, generation: generation))
                    let beating = Task {
                        while (try? await Task.sleep(for: .milliseconds(200))) != nil {
                            _ = try? await queue.heartbeat(holder, generation: generation)
                        }
                    }
                    defer { beating.cancel() }
                    try await withSimulator { server in
                        let worker = try PacerProcess(
                            workerFlags(database, batch: "b", baseURL: server.baseURL),
                            stderrFile: directory.appendingPathComponent("worker.txt")
                        )
                        async let ended = worker.run()
                        let rest = try await eventually(within: .seconds(60)) {
                            try await status(database, batch: "b")?.done == count - 10
                        }
                        #expect(rest, "the worker never did the chunks nobody held")
                        // Done with what it could claim, it waits: the held chunk may come back.
                        let waits = try await eventually(within: .seconds(2)) { !worker.process.isRunning }
                        #expect(!waits, "the worker exited while a live worker held a chunk")
                        _ = try await queue.giveBack(holder)
                        let (exit, stderr) = try await ended
                        #expect(exit == 0, "\(stderr)")
                    }
                    let after = try #require(try await queue.status())
                    #expect(after.succeeded == count && after.inFlight == 0)
                }
            }
        }

        /// A batch dropped with --force while its worker runs, then pushed again under the
        /// same name: the worker stops (exit 2, saying why) and stores nothing in the new one.
        @Test func aWorkerOfADroppedBatchStopsAndStoresNothingInTheNewOne() async throws {
            let count = 200
            try await withPostgres { database in
                try await push(count, chunkSize: 20, to: database)
                try await withSimulator(SimulatorConfiguration(latency: .milliseconds(50))) { server in
                    let flags = workerFlags(database, batch: "b", baseURL: server.baseURL) + ["--concurrency", "2"]
                    let worker = try PacerProcess(flags, stderrFile: directory.appendingPathComponent("worker.txt"))
                    async let ended = worker.run()
                    let started = try await eventually(within: .seconds(60)) { server.stats.snapshot().requests >= 10 }
                    #expect(started, "the worker never got going")
                    let drop = ["queue", "drop", "--db", database.url, "--batch", "b", "--force", "-q"]
                    #expect(await pacer(drop) == 0)
                    try await push(count, chunkSize: 20, to: database)
                    let (exit, stderr) = try await ended
                    #expect(exit == 2, "\(stderr)")
                    #expect(stderr.contains("batch 'b' was dropped"), "\(stderr)")
                }
                let after = try #require(try await status(database, batch: "b"))
                #expect(after.done == 0 && after.inFlight == 0 && after.items == count, "\(after)")
            }
        }

        /// A worker frozen (SIGSTOP) past --reap-after while another does its chunks: resumed,
        /// it sends nothing more of them. Only what it had sent before the freeze and not
        /// stored (its 4 requests in flight) is sent again, by the other worker.
        @Test func aFrozenWorkerResendsAtMostItsRequestsInFlight() async throws {
            let (count, concurrency) = (60, 4)
            try await withPostgres { database in
                try await push(count, chunkSize: 20, to: database)
                try await withSimulator(SimulatorConfiguration(latency: .milliseconds(200))) { server in
                    let flags =
                        workerFlags(database, batch: "b", baseURL: server.baseURL, reapAfter: 2)
                        + ["--concurrency", String(concurrency)]
                    let frozen = try PacerProcess(
                        flags + ["--summary-json", path("frozen.json")],
                        stderrFile: directory.appendingPathComponent("frozen.txt")
                    )
                    // Frozen as its fifth request arrives: the first (sent alone, to learn the
                    // limits) is stored, the next four are in flight.
                    let sentBeforeFreeze = Mutex<Set<String>>([])
                    server.stats.when(requests: 5) {
                        send(SIGSTOP, to: frozen.pid)
                        sentBeforeFreeze.withLock { $0 = Set(server.stats.snapshot().byItem.keys) }
                    }
                    async let frozenEnded = frozen.run()
                    let stopped = try await eventually(within: .seconds(60)) {
                        sentBeforeFreeze.withLock { !$0.isEmpty }
                    }
                    #expect(stopped, "the first worker never got going")
                    let other = try PacerProcess(flags, stderrFile: directory.appendingPathComponent("other.txt"))
                    let (otherExit, otherErr) = try await other.run()
                    #expect(otherExit == 0, "\(otherErr)")
                    send(SIGCONT, to: frozen.pid)
                    let (exit, stderr) = try await frozenEnded
                    #expect(exit == 0, "\(stderr)")
                    let stats = server.stats.snapshot()
                    let twice = Set(stats.byItem.filter { $0.value > 1 }.keys)
                    let before = sentBeforeFreeze.withLock { $0 }
                    #expect(
                        twice.isSubset(of: before),
                        "sent again after the freeze: \(twice.subtracting(before).sorted())"
                    )
                    // The requests in flight, and one whose answer came just before the freeze
                    // and was not stored yet (results are stored every --flush-interval).
                    #expect(twice.count <= concurrency + 1, "\(twice.sorted())")
                    #expect(stats.byItem.count == count && stats.byItem.values.allSatisfy { $0 <= 2 })
                }
                let after = try #require(try await status(database, batch: "b"))
                #expect(after.succeeded == count && after.inFlight == 0)
            }
            let summary = try workerSummary(path("frozen.json"))
            #expect((summary["chunks_lost"] as? Int ?? 0) >= 1, "\(summary)")
        }

        /// The server asks for an hour's wait (more than --max-wait): the worker gives its
        /// unfinished chunks back and exits 1, saying when to run it again.
        @Test func anHourLongWaitExitsOneSayingWhenToResume() async throws {
            let count = 300
            try await withPostgres { database in
                try await push(count, chunkSize: 20, to: database)
                let limited = SimulatorConfiguration(
                    faultRate: 0.05,
                    faults: [.rateLimited],
                    seed: 7,
                    retryAfter: .seconds(3600)
                )
                try await withSimulator(limited) { server in
                    let worker = try PacerProcess(
                        workerFlags(database, batch: "b", baseURL: server.baseURL) + ["--concurrency", "4"],
                        stderrFile: directory.appendingPathComponent("worker.txt")
                    )
                    let (exit, stderr) = try await worker.run()
                    #expect(exit == 1, "\(stderr)")
                    #expect(stderr.contains("the server asked to wait 3600 s"), "\(stderr)")
                    #expect(stderr.contains("run pacer worker again after that time"), "\(stderr)")
                }
                let after = try #require(try await status(database, batch: "b"))
                #expect(after.done < count && after.inFlight == 0 && after.pending > 0, "\(after)")
                #expect(after.workers.map(\.state) == ["stopped"])
            }
        }
    }
}
