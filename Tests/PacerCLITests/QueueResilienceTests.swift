import Foundation
import PacerPostgres
import PacerSimulator
import PacerTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension QueueSuites {
    /// Workers that die, are stopped, or lose their database (issue 13): whatever happens, every
    /// item ends with one stored result.
    @Suite(.timeLimit(.minutes(3))) struct QueueResilienceTests: QueueScratch {
        let directory: URL

        init() throws { directory = try makeScratchFolder() }

        /// Exports batch `b` and returns its ids.
        func exportedIDs(_ database: ThrowawayPostgres) async throws -> [String] {
            let output = path("out.jsonl")
            #expect(await pacer(["queue", "export", "--db", database.url, "--batch", "b", "-o", output, "-q"]) == 0)
            return try customIDs(output)
        }

        @Test func aKilledWorkersChunksGoBackToTheBatchAndAnotherWorkerDoesThem() async throws {
            let count = 120
            try await withPostgres { database in
                try await push(count, chunkSize: 10, to: database)
                try await withSimulator(SimulatorConfiguration(latency: .milliseconds(40))) { server in
                    // This test needs the reaper soon after the kill.
                    let quickReaper = workerFlags(database, batch: "b", baseURL: server.baseURL, reapAfter: 1)
                    let flags = quickReaper + ["--concurrency", "4"]
                    let doomed = try PacerProcess(flags, stderrFile: directory.appendingPathComponent("doomed.txt"))
                    server.stats.when(requests: 20) { send(SIGKILL, to: doomed.pid) }
                    #expect(try await doomed.run().status == 128 + SIGKILL)
                    let held = try #require(try await status(database, batch: "b"))
                    #expect(held.workers.count == 1 && held.workers[0].chunks > 0 && held.inFlight > 0)
                    // Once its heartbeat is older than --reap-after (1 s), a worker takes its chunks.
                    try await Task.sleep(for: .milliseconds(1200))
                    #expect(await pacer(flags) == 0)
                }
                let after = try #require(try await status(database, batch: "b"))
                #expect(after.succeeded == count && after.inFlight == 0)
                #expect(after.workers.map(\.state) == ["lost", "stopped"])
                #expect(try await exportedIDs(database) == (0..<count).map { "req-\($0)" })
            }
        }

        @Test func ctrlCFinishesTheRequestsInFlightAndGivesTheRestBack() async throws {
            let count = 60
            try await withPostgres { database in
                try await push(count, chunkSize: 20, to: database)
                try await withSimulator(SimulatorConfiguration(latency: .milliseconds(150))) { server in
                    let flags = workerFlags(database, batch: "b", baseURL: server.baseURL) + ["--concurrency", "4"]
                    let stopped = try PacerProcess(flags, stderrFile: directory.appendingPathComponent("stopped.txt"))
                    server.stats.when(requests: 6) { send(SIGINT, to: stopped.pid) }
                    let (exit, stderr) = try await stopped.run()
                    #expect(exit == 130, "\(stderr)")
                    let after = try #require(try await status(database, batch: "b"))
                    // Every request sent was answered and its result stored; nothing is held.
                    #expect(after.done == server.stats.snapshot().requests && after.done < count)
                    #expect(after.inFlight == 0 && after.workers.map(\.state) == ["stopped"])
                    #expect(await pacer(flags) == 0)
                }
                #expect(try await exportedIDs(database) == (0..<count).map { "req-\($0)" })
            }
        }

        @Test func aDatabaseRestartMidRunLosesNothing() async throws {
            let count = 150
            try await withPostgres { database in
                try await push(count, chunkSize: 10, to: database)
                try await withSimulator(SimulatorConfiguration(latency: .milliseconds(20))) { server in
                    let flags = workerFlags(database, batch: "b", baseURL: server.baseURL) + ["--concurrency", "4"]
                    async let worker = pacer(flags + ["--summary-json", path("worker.json")])
                    let started = try await eventually(within: .seconds(60), every: .milliseconds(10)) {
                        server.stats.snapshot().requests >= 30
                    }
                    #expect(started, "the worker never got going")
                    try await database.stop()
                    try await Task.sleep(for: .seconds(1))
                    try await database.start()
                    #expect(await worker == 0)
                }
                let after = try #require(try await status(database, batch: "b"))
                #expect(after.succeeded == count && after.inFlight == 0)
                #expect(try await exportedIDs(database) == (0..<count).map { "req-\($0)" })
            }
            #expect(try workerSummary(path("worker.json"))["results_not_stored"] as? Int == 0)
        }

        /// With `--follow`, a worker that ran out of work takes what is pushed later, until
        /// Ctrl-C. It polls only every 600 s here: the push's `NOTIFY` wakes it, and Ctrl-C ends
        /// its wait.
        @Test func aFollowingWorkerTakesWorkPushedLater() async throws {
            try await withPostgres { database in
                try await push(10, chunkSize: 5, to: database)
                try await withSimulator { server in
                    let flags =
                        workerFlags(database, batch: "b", baseURL: server.baseURL) + ["--follow", "--poll", "600"]
                    let worker = try PacerProcess(flags, stderrFile: directory.appendingPathComponent("worker.txt"))
                    async let ended = worker.run()
                    try await waitUntil(done: 10, in: database)
                    let more = try write("more.jsonl", chatLines(10, from: 10))
                    #expect(await pacer(["queue", "push", more, "--db", database.url, "--batch", "b", "-q"]) == 0)
                    try await waitUntil(done: 20, in: database)
                    send(SIGINT, to: worker.pid)
                    #expect(try await ended.status == 130)
                }
                #expect(try await exportedIDs(database) == (0..<20).map { "req-\($0)" })
            }
        }

        /// Waits (at most 30 s) until batch `b` has `done` results.
        func waitUntil(done: Int, in database: ThrowawayPostgres) async throws {
            let reached = try await eventually(within: .seconds(30)) {
                try await status(database, batch: "b")?.done == done
            }
            #expect(reached, "batch b never reached \(done) results")
        }

        /// A worker that cannot reach its database says so (without the URL's password) and
        /// waits for it.
        @Test func aWorkerStartedWhileTheDatabaseIsDownWaitsForIt() async throws {
            try await withPostgres { database in
                try await push(20, chunkSize: 10, to: database)
                try await database.stop()
                try await withSimulator { server in
                    let url = "postgres://postgres:hunter2@127.0.0.1:\(database.port)/postgres"
                    var flags = workerFlags(database, batch: "b", baseURL: server.baseURL)
                    flags[2] = url
                    let stderrFile = directory.appendingPathComponent("worker.txt")
                    let worker = try PacerProcess(flags, stderrFile: stderrFile)
                    async let ended = worker.run()
                    // The worker says it waits after 3 s without an answer; the database comes back
                    // once it has (a fixed 3.5 s sleep could lose that race on a starved machine).
                    let waiting = try await eventually(within: .seconds(60), every: .milliseconds(100)) {
                        let text = (try? String(contentsOf: stderrFile, encoding: .utf8)) ?? ""
                        return text.contains("waiting for the database")
                    }
                    #expect(waiting, "the worker never said it waits")
                    try await database.start()
                    let (exit, stderr) = try await ended
                    #expect(exit == 0, "\(stderr)")
                    #expect(
                        stderr.contains(
                            "waiting for the database at postgres://postgres@127.0.0.1:\(database.port)/postgres"
                        )
                    )
                    #expect(stderr.contains("the database answered again"))
                    #expect(!stderr.contains("hunter2"))
                }
                #expect(try await exportedIDs(database).count == 20)
            }
        }
    }
}
