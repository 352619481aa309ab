import Foundation
import PacerCore
import PacerJobs
import PacerPostgres
import PacerSimulator

extension DemoCommand {
    /// Three workers drain one batch from a throwaway PostgreSQL, sharing one quota of 1,200
    /// requests a minute against a simulator that enforces it: nothing to set up, and skipped
    /// (with the reason) where PostgreSQL is not installed.
    func scaleOutRun() async throws -> Bool {
        let items = 240
        let rpm = 1200
        print("\nScale out: \(items) prompts pushed to a throwaway PostgreSQL, 3 workers sharing one quota,")
        print("  against a server that allows \(rpm) requests a minute (50 ms each)")
        let database: ThrowawayPostgres
        do {
            database = try await ThrowawayPostgres.start()
        } catch let error as ThrowawayPostgresError {
            print("  skipped: \(error)")
            return true
        }
        do {
            let succeeded = try await scaleOut(items: items, rpm: rpm, database: database)
            await database.remove()
            return succeeded
        } catch {
            await database.remove()
            throw error
        }
    }

    private func scaleOut(items: Int, rpm: Int, database: ThrowawayPostgres) async throws -> Bool {
        let input = FileManager.default.temporaryDirectory.appendingPathComponent(
            "pacer-demo-\(UUID().uuidString).jsonl"
        )
        defer { try? FileManager.default.removeItem(at: input) }
        let lines = (0..<items).map { index in
            #"{"custom_id":"demo-\#(index)","method":"POST","url":"/v1/chat/completions","body":{"model":"gpt-4o-mini","messages":[{"role":"user","content":"scale-out demo prompt \#(index)"}]}}"#
        }
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: input)
        let configuration = SimulatorConfiguration(latency: .milliseconds(50), requestsPerMinute: rpm)
        return try await Simulator.withRunning(configuration) { server in
            let db = ["--db", database.url, "--batch", "demo", "-q"]
            guard await PacerCommand.main(arguments: ["queue", "push", input.path, "--chunk-size", "20"] + db) == 0
            else {
                return false
            }
            let started = ContinuousClock.now
            let worker =
                db + ["--base-url", server.baseURL, "--concurrency", "8", "--quota", database.url + "?quota=demo"]
            let statuses = await withTaskGroup(of: Int32.self) { group in
                for _ in 0..<3 {
                    group.addTask { await PacerCommand.main(arguments: ["worker"] + worker) }
                }
                return await group.reduce(into: [Int32]()) { $0.append($1) }
            }
            let seconds = started.duration(to: .now).pacerSeconds
            let status = try await QueueDatabase.withDatabase(try DatabaseURL(database.url)) { connection in
                try await BatchQueue(database: connection, batch: "demo").status()
            }
            guard let status else { return false }
            let stats = server.stats.snapshot()
            let perWorker = status.workers.map { String($0.succeeded) }.joined(separator: " + ")
            print(
                "  Completed: \(status.succeeded)/\(status.items) (\(perWorker) by worker) in \(SummaryText.format(seconds, digits: 1)) s: "
                    + "\(Int((Double(stats.requests) / seconds * 60).rounded())) requests/min together, "
                    + "\(stats.byStatus["429"] ?? 0) answered 429"
            )
            print("  (pacer queue push, pacer worker ×3 --quota, pacer queue status; see README, \"Scale out\")")
            return statuses.allSatisfy { $0 == 0 } && status.succeeded == status.items
        }
    }
}
