import Foundation
import PacerCore
import PacerSimulator
import PacerTesting
import Testing

/// Issue 20: the output and errors files are locked while a run writes them. On 991d846 two
/// `pacer chat` runs started on one output file sent 969 requests and wrote 969 lines for 500
/// ids.
@Suite struct OutputLockTests: ScratchFolder {
    let directory: URL

    init() throws { directory = try makeScratchFolder() }

    @Test func aSecondRunOnTheSameOutputExitsTwoNamingTheFirst() async throws {
        let count = 20
        let input = try write("prompts.txt", (1...count).map { "prompt \($0)" }.joined(separator: "\n"))
        let output = path("out.jsonl")
        try await withSimulator(SimulatorConfiguration(latency: .milliseconds(300))) { server in
            let arguments = ["chat", input, "--base-url", server.baseURL, "-o", output, "--concurrency", "2", "-q"]
            let first = try PacerProcess(arguments, stderrFile: directory.appendingPathComponent("first.txt"))
            let answered = Latch()
            server.stats.when(requests: 1) { answered.open() }
            async let firstRun = first.run()
            await answered.wait()
            let (secondStatus, secondError) = try await PacerProcess(
                arguments,
                stderrFile: directory.appendingPathComponent("second.txt")
            ).run()
            let (status, stderr) = try await firstRun
            #expect(status == 0, "\(stderr)")
            #expect(secondStatus == 2, "\(secondError)")
            #expect(secondError.contains("\(output): in use by pid \(first.pid)"), "\(secondError)")
            #expect(server.stats.snapshot().requests == count)
        }
        let ids = try lines(output).compactMap { $0["id"] as? String }
        #expect(ids.count == count && Set(ids).count == count)
        // The lock ends with the run: a rerun continues the file (nothing left to do).
        let rerun = try PacerProcess(
            ["chat", input, "--base-url", "http://127.0.0.1:9/v1", "-o", output, "-q"],
            stderrFile: directory.appendingPathComponent("rerun.txt")
        )
        #expect(try await rerun.run().status == 0)
    }
}
