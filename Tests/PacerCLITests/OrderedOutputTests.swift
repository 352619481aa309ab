import Foundation
import PacerCore
import PacerJobs
import PacerSimulator
import PacerTesting
import Testing

@testable import PacerCLI

/// `--ordered`: results in input order, held in a bounded window (issue 10).
@Suite(.timeLimit(.minutes(1))) struct OrderedOutputTests: ScratchFolder {
    let directory: URL

    init() throws { directory = try makeScratchFolder() }

    struct Line: OutputRecord {
        var id: Int
        func appendJSON(to output: inout [UInt8], encoder: JSONEncoder) { output += Array("\(id)".utf8) }
    }

    func ids(_ lines: ReorderWindow.Lines) -> [Int] { lines.compactMap { ($0.line as? Line)?.id } }

    @Test func finishedItemsComeOutInAdmissionOrder() async {
        let window = ReorderWindow(size: 8)
        // Input indexes with gaps (items a resume skipped) are numbered as admitted.
        for index in [0, 2, 3, 7] { await window.admit(index: index) }
        #expect(ids(window.finished(index: 3, lines: [(Line(id: 3), true)])).isEmpty)
        #expect(ids(window.finished(index: 0, lines: [(Line(id: 0), true)])) == [0])
        // An item that writes nothing (stopped) still moves the window.
        #expect(ids(window.finished(index: 2, lines: [])) == [3])
        #expect(ids(window.finished(index: 7, lines: [(Line(id: 7), false)])) == [7])
    }

    @Test func admissionWaitsWhileTheOldestUnfinishedItemIsAWindowBehind() async throws {
        let window = ReorderWindow(size: 2)
        await window.admit(index: 0)
        await window.admit(index: 1)
        let third = Task { await window.admit(index: 2) }
        while !window.isWaiting { await Task.yield() }
        // Items 0 and 1 are unfinished: the third waits; finishing 1 alone does not move it.
        _ = window.finished(index: 1, lines: [])
        while !window.isWaiting { await Task.yield() }
        #expect(window.admittedCount == 2)
        _ = window.finished(index: 0, lines: [])
        await third.value
        #expect(window.admittedCount == 3 && ids(window.drain()).isEmpty)
    }

    @Test func aRunWithRetriesWritesItsLinesInInputOrder() async throws {
        let input = try write("prompts.txt", (1...60).map { "prompt \($0)" }.joined(separator: "\n") + "\n")
        let output = path("out.jsonl")
        let configuration = SimulatorConfiguration(faultRate: 0.3, faults: [.serverError], seed: 4)
        try await withSimulator(configuration) { server in
            let arguments = [
                "chat", input, "-o", output, "-q", "--base-url", server.baseURL, "--concurrency", "8", "--ordered",
                "--ordered-window", "4", "--backoff-base", "0.01", "--backoff-cap", "0.05", "--max-retries", "20",
                "--retry-budget", "off",
            ]
            #expect(await pacer(arguments) == 0)
            #expect(server.stats.snapshot().requests > 60, "some items were retried, finishing after later ones")
        }
        #expect(try lines(output).compactMap { $0["id"] as? String } == (1...60).map(String.init))
    }
}
