import Foundation
import PacerPostgres
import PacerSimulator
import PacerTesting
import Testing

@testable import PacerCLI

extension QueueSuites {
    /// `pacer queue` and `pacer worker` against a real PostgreSQL of their own and the simulator
    /// (issue 13): input checked as `pacer batch` checks it, several workers draining one batch,
    /// and an export with the lines a file run writes.
    @Suite(.timeLimit(.minutes(3))) struct QueueTests: QueueScratch {
        let directory: URL

        init() throws { directory = try makeScratchFolder() }

        @Test func aPushWithABadLineExitsTwoNamingTheLineAndLoadsNothing() async throws {
            var text = chatLines(6)
            text = text.replacingOccurrences(
                of: #""custom_id":"req-3","method":"POST""#,
                with: #""custom_id":"req-3","method":"GET""#
            )
            let bad = try write("bad.jsonl", text)
            let good = try write("good.jsonl", chatLines(4))
            try await withPostgres { database in
                let push = try PacerProcess(
                    ["queue", "push", bad, "--db", database.url, "--batch", "b"],
                    stderrFile: directory.appendingPathComponent("push.txt")
                )
                let (status, stderr) = try await push.run()
                #expect(status == 2)
                #expect(stderr.contains("bad.jsonl:4:") && stderr.contains(#""method" must be "POST""#), "\(stderr)")
                #expect(try await self.status(database, batch: "b") == nil, "nothing is loaded, not even the batch")

                #expect(await pacer(["queue", "push", good, "--db", database.url, "--batch", "b", "-q"]) == 0)
                // The same ids again: refused whole.
                #expect(await pacer(["queue", "push", good, "--db", database.url, "--batch", "b", "-q"]) == 2)
                #expect(try await self.status(database, batch: "b")?.items == 4)
            }
        }

        /// `pacer queue drop` deletes a batch, but not while a worker runs on it (unless
        /// `--force`); afterwards the same ids can be pushed again.
        @Test func dropDeletesABatchButNotUnderARunningWorker() async throws {
            let input = try write("in.jsonl", chatLines(5))
            try await withPostgres { database in
                #expect(await pacer(["queue", "push", input, "--db", database.url, "--batch", "b", "-q"]) == 0)
                let worker = WorkerIdentity.current()
                try await QueueDatabase.withDatabase(try DatabaseURL(database.url)) { connection in
                    _ = try await BatchQueue(database: connection, batch: "b").heartbeat(worker)
                }
                let refused = try PacerProcess(
                    ["queue", "drop", "--db", database.url, "--batch", "b"],
                    stderrFile: directory.appendingPathComponent("drop1.txt")
                )
                let (status, stderr) = try await refused.run()
                #expect(status == 2)
                #expect(stderr.contains("batch 'b' has 1 workers running") && stderr.contains("--force"), "\(stderr)")
                #expect(try await self.status(database, batch: "b")?.items == 5, "kept whole")

                try await QueueDatabase.withDatabase(try DatabaseURL(database.url)) { connection in
                    _ = try await BatchQueue(database: connection, batch: "b").giveBack(worker)
                }
                #expect(await pacer(["queue", "drop", "--db", database.url, "--batch", "b", "-q"]) == 0)
                #expect(try await self.status(database, batch: "b") == nil)
                #expect(await pacer(["queue", "drop", "--db", database.url, "--batch", "b", "-q"]) == 2, "gone")
                #expect(await pacer(["queue", "push", input, "--db", database.url, "--batch", "b", "-q"]) == 0)
                #expect(await pacer(["queue", "drop", "--db", database.url, "--batch", "b", "--force", "-q"]) == 0)
            }
        }

        /// A database that answers "no" (here: no such database) ends the command with the
        /// server's reason, instead of a wait for an outage that is not one.
        @Test func aDatabaseThatRefusesIsAnErrorNotAWait() async throws {
            let input = try write("in.jsonl", chatLines(2))
            try await withPostgres { database in
                let url = "postgres://postgres@127.0.0.1:\(database.port)/nosuchdb"
                let push = try PacerProcess(
                    ["queue", "push", input, "--db", url, "--batch", "b"],
                    stderrFile: directory.appendingPathComponent("push.txt")
                )
                let (status, stderr) = try await push.run()
                #expect(status == 2)
                #expect(stderr.contains(#"database "nosuchdb" does not exist (SQLSTATE 3D000)"#), "\(stderr)")
            }
        }

        /// Three workers with chunks of 10 against a simulator failing a fifth of the requests:
        /// every item is done once, by one of them, and the export is a file run's output.
        @Test func threeWorkersDrainABatchAndTheExportHasEveryIDOnce() async throws {
            let count = 240
            let input = try write("in.jsonl", chatLines(count))
            let output = path("out.jsonl")
            let faults = SimulatorConfiguration(
                latency: .milliseconds(5),
                faultRate: 0.2,
                faults: [.serverError, .unavailable, .drop],
                seed: 11
            )
            try await withPostgres { database in
                #expect(
                    await pacer([
                        "queue", "push", input, "--db", database.url, "--batch", "b", "--chunk-size", "10", "-q",
                    ])
                        == 0
                )
                try await withSimulator(faults) { server in
                    let flags = workerFlags(database, batch: "b", baseURL: server.baseURL) + ["--concurrency", "4"]
                    let statuses = await withTaskGroup(of: Int32.self) { group in
                        for worker in 0..<3 {
                            group.addTask {
                                await pacer(flags + ["--summary-json", path("worker\(worker).json")])
                            }
                        }
                        return await group.reduce(into: []) { $0.append($1) }
                    }
                    #expect(statuses == [0, 0, 0])
                }
                let status = try #require(try await self.status(database, batch: "b"))
                #expect(status.succeeded == count && status.failed == 0 && status.inFlight == 0 && status.pending == 0)
                #expect(status.workers.count == 3 && status.workers.allSatisfy { $0.state == "stopped" })
                #expect(
                    await pacer(["queue", "export", "--db", database.url, "--batch", "b", "-o", output, "-q"]) == 0
                )
            }
            let exported = try lines(output)
            let ids = exported.compactMap { $0["custom_id"] as? String }
            #expect(ids == (0..<count).map { "req-\($0)" }, "every id once, in push order")
            for line in exported {
                let response = try #require(line["response"] as? [String: Any])
                let body = try #require(response["body"] as? [String: Any])
                #expect(line["error"] is NSNull && response["status_code"] as? Int == 200)
                #expect(line["id"] as? String == "batch_req_" + (line["custom_id"] as? String ?? ""))
                #expect(body["object"] as? String == "chat.completion")
            }
            // Each worker did a share, and the shares add up.
            var done = 0
            for worker in 0..<3 {
                done += try #require(try workerSummary(path("worker\(worker).json"))["results_stored"] as? Int)
            }
            #expect(done == count)
        }

        /// Claims, completions and heartbeats come in batches: with the default timing and chunks,
        /// a worker makes far fewer than 0.2 database round trips per item (issue 13's bound),
        /// and the shared quota it uses by default fewer than 0.1 leases per item.
        @Test func aWorkerMakesFewerThanAFifthOfARoundTripPerItem() async throws {
            let count = 1000
            let input = try write("in.jsonl", chatLines(count))
            try await withPostgres { database in
                #expect(await pacer(["queue", "push", input, "--db", database.url, "--batch", "b", "-q"]) == 0)
                try await withSimulator { server in
                    let worker = [
                        "worker", "--db", database.url, "--batch", "b", "--base-url", server.baseURL, "-q",
                        "--concurrency", "16", "--summary-json", path("worker.json"),
                    ]
                    #expect(await pacer(worker) == 0)
                }
                // Without --quota, the worker paced against quota 'default' in the queue's
                // database, leasing slots in long runs from a server without limits.
                let stored = try await QueueDatabase.withDatabase(try DatabaseURL(database.url)) { connection in
                    try await StoredQuota.read("default", from: connection)
                }
                let leases = try #require(stored?.leases)
                #expect(leases > 0 && Double(leases) <= 0.1 * Double(count), "\(leases) leases for \(count) items")
            }
            let summary = try workerSummary(path("worker.json"))
            #expect(summary["results_stored"] as? Int == count)
            let perItem = try #require(summary["database_round_trips_per_item"] as? Double)
            #expect(perItem <= 0.2, "\(perItem) round trips per item")
            #expect(perItem > 0)
        }

        /// A worker takes `--quota` and `--metrics-port` as `pacer batch` does: it paces against
        /// the shared quota and serves its metrics.
        @Test func aWorkerSharesTheQuotaAndServesMetrics() async throws {
            let input = try write("in.jsonl", chatLines(20))
            try await withPostgres { database in
                #expect(await pacer(["queue", "push", input, "--db", database.url, "--batch", "b", "-q"]) == 0)
                try await withSimulator { server in
                    var flags = workerFlags(database, batch: "b", baseURL: server.baseURL)
                    flags.removeAll { $0 == "-q" }
                    let worker = try PacerProcess(
                        flags + ["--quota", database.url + "?quota=shared", "--metrics-port", "0"],
                        stderrFile: directory.appendingPathComponent("worker.txt")
                    )
                    let (status, stderr) = try await worker.run()
                    #expect(status == 0, "\(stderr)")
                    #expect(
                        stderr.contains(
                            "shared quota 'shared' at postgres://postgres@127.0.0.1:\(database.port)/postgres"
                        )
                    )
                    #expect(stderr.contains("metrics: http://"))
                    #expect(stderr.contains("Completed: 20/20 successful"))
                }
            }
        }

        /// Workers with `--routes` and no `--quota` share each deployment's limit through the
        /// queue's database, as workers without routes share quota `default`: one row per
        /// deployment (`default/NAME`), so that two workers keep to each limit together.
        @Test func routedWorkersShareEachDeploymentsLimitThroughTheQueuesDatabase() async throws {
            let input = try write("in.jsonl", chatLines(60))
            let limited = SimulatorConfiguration(requestsPerMinute: 1200, limitWindow: .quantized)
            try await withPostgres { database in
                #expect(await pacer(["queue", "push", input, "--db", database.url, "--batch", "b", "-q"]) == 0)
                try await withSimulator(limited) { first in
                    try await withSimulator(limited) { second in
                        let routes = try write(
                            "routes.json",
                            """
                            {"deployments": [
                              {"name": "one", "base_url": "\(first.baseURL)", "api_key_env": "KEY_A", "rpm": 1200, "concurrency": 4, "models": ["gpt-4o-mini"]},
                              {"name": "two", "base_url": "\(second.baseURL)", "api_key_env": "KEY_A", "rpm": 1200, "concurrency": 4, "models": ["gpt-4o-mini"]}
                            ]}
                            """
                        )
                        var flags = workerFlags(database, batch: "b", baseURL: "http://unused.invalid/v1")
                        flags.removeAll { $0 == "--base-url" || $0 == "http://unused.invalid/v1" }
                        flags += ["--routes", routes]
                        let arguments = flags
                        let statuses = await withTaskGroup(of: Int32.self) { group in
                            for _ in 0..<2 {
                                group.addTask { await pacer(arguments, environment: ["KEY_A": "sk-a"]) }
                            }
                            return await group.reduce(into: []) { $0.append($1) }
                        }
                        #expect(statuses == [0, 0])
                        let stats = [first.stats.snapshot(), second.stats.snapshot()]
                        #expect(stats.map { $0.byStatus["200"] ?? 0 }.reduce(0, +) == 60)
                        for deployment in stats {
                            #expect((deployment.byStatus["429"] ?? 0) <= 1, "\(deployment.byStatus)")
                        }
                    }
                }
                try await QueueDatabase.withDatabase(try DatabaseURL(database.url)) { connection in
                    for name in ["default/one", "default/two"] {
                        let stored = try await StoredQuota.read(name, from: connection)
                        #expect((stored?.leases ?? 0) > 0, "\(name): \(String(describing: stored))")
                    }
                }
            }
        }

        /// The same item run by `pacer batch` from a file and by a worker from the queue gives
        /// lines of the same shape, written by the same code.
        @Test func theExportHasTheLinesOfAFileRun() async throws {
            let input = try write("in.jsonl", chatLines(3))
            try await withPostgres { database in
                try await withSimulator { server in
                    #expect(
                        await pacer(["batch", input, "-o", path("file.jsonl"), "-q", "--base-url", server.baseURL]) == 0
                    )
                    #expect(await pacer(["queue", "push", input, "--db", database.url, "--batch", "b", "-q"]) == 0)
                    #expect(await pacer(workerFlags(database, batch: "b", baseURL: server.baseURL)) == 0)
                }
                #expect(
                    await pacer([
                        "queue", "export", "--db", database.url, "--batch", "b", "-o", path("queue.jsonl"), "-q",
                    ])
                        == 0
                )
            }
            // Bodies differ (each answer has its own id); the lines' keys and their order do not.
            func shape(_ file: String) throws -> [String] {
                try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").map { line in
                    line.replacingOccurrences(of: #""body":\{.*\}\}"#, with: "BODY", options: .regularExpression)
                        .replacingOccurrences(
                            of: #""request_id":("[^"]*"|null)"#,
                            with: "REQUEST",
                            options: .regularExpression
                        )
                }.sorted()
            }
            #expect(try shape(path("file.jsonl")) == shape(path("queue.jsonl")))
        }

        /// Failures are stored as a file run writes them (to the errors file on export), and
        /// `--retry-failed` makes them claimable again.
        @Test func retryFailedRedoesTheFailedItems() async throws {
            let input = try write("in.jsonl", chatLines(12))
            let output = path("out.jsonl")
            try await withPostgres { database in
                #expect(
                    await pacer([
                        "queue", "push", input, "--db", database.url, "--batch", "b", "--chunk-size", "5", "-q",
                    ])
                        == 0
                )
                try await withSimulator(SimulatorConfiguration(faultRate: 1, faults: [.serverError], seed: 3)) {
                    server in
                    let flags = workerFlags(database, batch: "b", baseURL: server.baseURL)
                    #expect(await pacer(flags + ["--max-retries", "0"]) == 0, "failures are results too")
                }
                let export = ["queue", "export", "--db", database.url, "--batch", "b", "-o", output, "-q"]
                #expect(await pacer(export) == 1)
                #expect(try customIDs(path("out.errors.jsonl")).count == 12 && customIDs(output).isEmpty)
                try await withSimulator { server in
                    let flags = workerFlags(database, batch: "b", baseURL: server.baseURL)
                    #expect(await pacer(flags) == 0)
                    #expect(server.stats.snapshot().requests == 0, "a failure is done without --retry-failed")
                    #expect(await pacer(flags + ["--retry-failed"]) == 0)
                    #expect(server.stats.snapshot().requests == 12)
                }
                #expect(await pacer(export) == 0)
            }
            #expect(try customIDs(output).count == 12)
            #expect(try customIDs(path("out.errors.jsonl")).isEmpty)
        }
    }
}
