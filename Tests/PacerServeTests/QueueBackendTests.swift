import Foundation
import NIOHTTP1
import PacerPostgres
import PacerServe
import PacerSimulator
import PacerTesting
import Testing

/// `pacer serve --db`: a batch created through the API goes into the queue, real `pacer
/// worker --batch '*'` processes drain it, and its output is downloaded through the API.
@Suite(.timeLimit(.minutes(3))) struct QueueBackendTests: ServeTesting {
    /// Starts `pacer worker` (the binary built beside the tests) with `arguments`; its stderr
    /// goes to `log`.
    static func worker(_ arguments: [String], log: URL) throws -> Process {
        let folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let candidates = [folder, folder.deletingLastPathComponent()].map { $0.appendingPathComponent("pacer") }
        let binary = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) })
        let process = Process()
        // Where no pacer is built beside the tests, running the first candidate fails, saying so.
        process.executableURL = binary ?? candidates[0]
        process.arguments = ["worker"] + arguments
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: log)
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        return process
    }

    @Test func aBatchCreatedThroughTheAPIIsDrainedByTwoWorkersAndDownloaded() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("serve-\(UUID())")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let simulator = SimulatorConfiguration(
            latency: .milliseconds(10),
            faultRate: 0.1,
            seed: 5,
            rejectInputContaining: "REJECT"
        )
        try await withPostgres { postgres in
            try await withSimulator(simulator) { simulator in
                try await QueueDatabase.withDatabase(try DatabaseURL(postgres.url)) { database in
                    try await BatchServer.withRunning(
                        ServeConfiguration(port: 0, dataFolder: folder.appendingPathComponent("data")),
                        backend: .queue(database)
                    ) { server in
                        let tests = BatchesAPITests()
                        let id = try await tests.createBatch(server, BatchesAPITests.chatLines(300, rejected: [7]))
                        let flags = [
                            "--db", postgres.url, "--batch", "*", "--base-url", simulator.baseURL, "-q",
                            "--heartbeat", "0.2", "--flush-interval", "0.05", "--max-retries", "12",
                            "--backoff-base", "0.01", "--backoff-cap", "0.05", "--concurrency", "4",
                        ]
                        // The batch is pushed once validated: workers without --follow find it then.
                        #expect(
                            try await eventually(within: .seconds(30)) {
                                try await BatchQueue(database: database, batch: id).status()?.items == 300
                            }
                        )
                        let inProgress = try await send(.GET, server.baseURL + "/batches/\(id)").json
                        #expect(inProgress["status"] as? String == "in_progress")
                        let workers = try (0..<2).map {
                            try Self.worker(flags, log: folder.appendingPathComponent("worker-\($0).txt"))
                        }
                        defer { for worker in workers where worker.isRunning { worker.terminate() } }
                        let batch = try await tests.waitFor(["completed"], server, id)
                        for worker in workers { worker.waitUntilExit() }
                        for (index, worker) in workers.enumerated() {
                            let log =
                                (try? String(
                                    contentsOf: folder.appendingPathComponent("worker-\(index).txt"),
                                    encoding: .utf8
                                )) ?? ""
                            #expect(worker.terminationStatus == 0, "worker \(index): \(log)")
                        }
                        let counts = try #require(batch["request_counts"] as? [String: Int])
                        #expect(counts == ["total": 300, "completed": 299, "failed": 1])
                        let output = try await tests.lines(server, file: batch["output_file_id"] as? String)
                        let errors = try await tests.lines(server, file: batch["error_file_id"] as? String)
                        let ids = (output + errors).compactMap { $0["custom_id"] as? String }
                        #expect(ids.count == 300)
                        #expect(Set(ids) == Set((0..<300).map { "r\($0)" }))
                        #expect(errors.compactMap { $0["custom_id"] as? String } == ["r7"])
                        #expect(simulator.stats.snapshot().requests >= 300)
                        // The queue's copy is dropped once the files are the server's and its
                        // workers have ended (each exited 0: none saw its batch taken away).
                        #expect(
                            try await eventually(within: .seconds(10)) {
                                try await BatchQueue(database: database, batch: id).status() == nil
                            }
                        )
                    }
                }
            }
        }
    }

    /// A cancel with no worker running stops every chunk: the batch ends cancelled, each line
    /// in the error file as `batch_cancelled`, and the queue's rows are dropped.
    @Test func aCancelStopsTheChunksNoWorkerHasStarted() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("serve-\(UUID())")
        defer { try? FileManager.default.removeItem(at: folder) }
        try await withPostgres { postgres in
            try await QueueDatabase.withDatabase(try DatabaseURL(postgres.url)) { database in
                try await BatchServer.withRunning(
                    ServeConfiguration(port: 0, dataFolder: folder),
                    backend: .queue(database)
                ) { server in
                    let tests = BatchesAPITests()
                    let id = try await tests.createBatch(server, BatchesAPITests.chatLines(250))
                    #expect(
                        try await eventually(within: .seconds(30)) {
                            try await BatchQueue(database: database, batch: id).status()?.items == 250
                        }
                    )
                    let cancelling = try await send(.POST, server.baseURL + "/batches/\(id)/cancel")
                    #expect(cancelling.json["status"] as? String == "cancelling", "\(cancelling.body)")
                    let batch = try await tests.waitFor(["cancelled"], server, id)
                    #expect(batch["output_file_id"] is NSNull)
                    let errors = try await tests.lines(server, file: batch["error_file_id"] as? String)
                    #expect(errors.count == 250)
                    #expect(
                        errors.allSatisfy { ($0["error"] as? [String: Any])?["code"] as? String == "batch_cancelled" }
                    )
                    #expect(batch["request_counts"] as? [String: Int] == ["total": 250, "completed": 0, "failed": 250])
                    #expect(
                        try await eventually(within: .seconds(10)) {
                            try await BatchQueue(database: database, batch: id).status() == nil
                        }
                    )
                }
            }
        }
    }
}
