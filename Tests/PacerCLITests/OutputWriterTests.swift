import Foundation
import PacerJobs
import Testing

@testable import PacerCLI

/// Output lines written together: kept until the batch catches up (or 64 KiB wait), never
/// reordered, never torn.
@Suite struct OutputWriterTests: ScratchFolder {
    let directory: URL

    init() throws { directory = try makeScratchFolder() }

    struct Note: OutputRecord, Encodable {
        var n: Int
        var text = ""
    }

    func fileLines(_ path: String) throws -> [String] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
    }

    @Test func keptLinesWaitForTheFlushAndKeepTheirOrder() throws {
        let path = path("out.jsonl")
        let writer = try OutputWriter(path: path)
        try writer.write(Note(n: 1), flush: false)
        try writer.write(Note(n: 2), flush: false)
        #expect(try fileLines(path).isEmpty)
        #expect(writer.linesWritten == 0)
        try writer.flush()
        #expect(try fileLines(path) == [#"{"n":1,"text":""}"#, #"{"n":2,"text":""}"#])
        try writer.write(Note(n: 3), flush: false)
        // A line written at once takes the kept ones with it, in order.
        try writer.write(Note(n: 4))
        #expect(try fileLines(path).count == 4)
        #expect(try fileLines(path).last == #"{"n":4,"text":""}"#)
        #expect(writer.linesWritten == 4)
    }

    @Test func sixtyFourKiBWaitingAreWrittenWithoutAFlush() throws {
        let path = path("big.jsonl")
        let writer = try OutputWriter(path: path)
        let text = String(repeating: "x", count: 1000)
        var n = 0
        while try fileLines(path).isEmpty {
            n += 1
            try writer.write(Note(n: n, text: text), flush: false)
            #expect(n <= OutputWriter.flushBytes / 1000 + 1)
        }
        #expect(try fileLines(path).count == n)
    }

    @Test func aWriterLeftWithKeptLinesWritesThemWhenItGoes() throws {
        let path = path("left.jsonl")
        do {
            let writer = try OutputWriter(path: path)
            try writer.write(Note(n: 1), flush: false)
        }
        #expect(try fileLines(path) == [#"{"n":1,"text":""}"#])
    }
}
