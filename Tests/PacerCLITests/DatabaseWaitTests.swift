import Foundation
import PacerMetrics
import Testing

@testable import PacerCLI

/// A command a person runs and waits on gives up on a database it cannot reach, after
/// `--wait-for-db`, with a message naming it; before, `pacer queue push` to a database that
/// was down waited until Ctrl-C.
@Suite(.timeLimit(.minutes(1))) struct DatabaseWaitTests: ScratchFolder {
    let directory: URL

    init() throws { directory = try makeScratchFolder() }

    @Test func pushStatusDropAndExportGiveUpOnADatabaseThatIsDown() async throws {
        let port = try await MetricsServer(configuration: .init(port: 0)) { [] }.withRunning { $0.port }
        let database = "postgres://pacer@127.0.0.1:\(port)/pacer"
        let input = try write(
            "in.jsonl",
            #"{"custom_id":"a","method":"POST","url":"/v1/embeddings","body":{"model":"m","input":"x"}}"# + "\n"
        )
        let commands: [(name: String, arguments: [String])] = [
            ("push", ["queue", "push", input]),
            ("status", ["queue", "status"]),
            ("drop", ["queue", "drop"]),
            ("export", ["queue", "export", "-o", path("out.jsonl")]),
        ]
        try await withThrowingTaskGroup(of: Void.self) { group in
            for command in commands {
                let process = try PacerProcess(
                    command.arguments + ["--db", database, "--batch", "b", "--wait-for-db", "1"],
                    stderrFile: directory.appendingPathComponent("\(command.name).txt")
                )
                group.addTask {
                    let (status, stderr) = try await process.run()
                    #expect(status == 2, "\(command.name): \(stderr)")
                    #expect(stderr.contains("waiting for the database at \(database)"), "\(command.name): \(stderr)")
                    #expect(
                        stderr.contains("error: \(database): could not reach the database in 1 s"),
                        "\(command.name): \(stderr)"
                    )
                }
            }
            try await group.waitForAll()
        }
    }

    /// Issue 20: `--quota` checks the input before it waits for the database, and gives up
    /// on a database it cannot reach after `--wait-for-db` (on 991d846 it waited until Ctrl-C,
    /// and a bad input was only found once the database answered).
    @Test func aSharedQuotaChecksTheInputFirstAndGivesUpOnADatabaseThatIsDown() async throws {
        let port = try await MetricsServer(configuration: .init(port: 0)) { [] }.withRunning { $0.port }
        let quota = "postgres://pacer@127.0.0.1:\(port)/pacer?quota=q"
        let bad = try write("bad.jsonl", #"{"prompt": "x"}"# + "\n" + "{not json\n")
        let (badStatus, badError) = try await PacerProcess(
            ["chat", bad, "--base-url", "http://127.0.0.1:9/v1", "--quota", quota, "--wait-for-db", "30"],
            stderrFile: directory.appendingPathComponent("bad-stderr.txt")
        ).run()
        #expect(badStatus == 2 && badError.contains("\(bad):2:"), "\(badError)")
        #expect(!badError.contains("waiting for the database"), "\(badError)")

        let good = try write("good.txt", "a prompt\n")
        let (status, stderr) = try await PacerProcess(
            ["chat", good, "--base-url", "http://127.0.0.1:9/v1", "--quota", quota, "--wait-for-db", "1"],
            stderrFile: directory.appendingPathComponent("good-stderr.txt")
        ).run()
        #expect(status == 2, "\(stderr)")
        #expect(stderr.contains("could not reach the database in 1 s"), "\(stderr)")
        #expect(stderr.contains("--quota names it"), "\(stderr)")
    }

    @Test func aWaitOutsideItsRangeIsRefused() async throws {
        for wait in ["-1", "nan", "100000"] {
            let process = try PacerProcess(
                ["queue", "status", "--db", "postgres://h/d", "--batch", "b", "--wait-for-db=\(wait)"],
                stderrFile: directory.appendingPathComponent("status.txt")
            )
            let (status, stderr) = try await process.run()
            #expect(status == 2 && stderr.contains("--wait-for-db must be 0 to 86400 seconds"), "\(wait): \(stderr)")
        }
    }
}
