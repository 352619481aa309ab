import Foundation
import PacerCore
import PacerJobs
import Testing

@testable import PacerCLI

/// The journal's reader, its id store and its compaction, without a server.
@Suite struct JournalTests: ScratchFolder {
    let directory: URL

    init() throws { directory = try makeScratchFolder() }

    /// Lines and what the journal reads in them.
    static let table: [(String, JournalScanner.Line)] = [
        (#"{"id":"1","index":0,"success":true}"#, .entry(id: "1", succeeded: true)),
        (
            #"{"error":{"kind":"timeout","status":null},"id":"2","index":1,"success":false}"#,
            .entry(id: "2", succeeded: false)
        ),
        (
            #"{"id":"batch_req_1","custom_id":"a","response":{"status_code":200,"body":{"x":[1,2,{"status_code":500}],"e":[]}},"error":null}"#,
            .entry(id: "a", succeeded: true)
        ),
        (
            #"{"id":"batch_req_2","custom_id":"b","response":{"status_code":429,"body":{}},"error":null}"#,
            .entry(id: "b", succeeded: false)
        ),
        (#"{"custom_id":"c","response":null,"error":{"code":"x","message":"y"}}"#, .entry(id: "c", succeeded: false)),
        (
            #"{"custom_id":"d","response":{"status_code":200},"error":{"code":"invalid_response"}}"#,
            .entry(id: "d", succeeded: false)
        ),
        (#"{"custom_id":"d2","response":{"status_code":200}}"#, .entry(id: "d2", succeeded: true)),
        // Anthropic's Message Batch results: `result.type` decides, not a `type` deeper down.
        (
            #"{"custom_id":"m1","result":{"type":"succeeded","message":{"type":"message","content":[{"type":"text"}]}}}"#,
            .entry(id: "m1", succeeded: true)
        ),
        (
            #"{"custom_id":"m2","result":{"error":{"type":"error","error":{"type":"succeeded"}},"type":"errored"}}"#,
            .entry(id: "m2", succeeded: false)
        ),
        (#"{"custom_id":"m3","result":{"type":"canceled"}}"#, .entry(id: "m3", succeeded: false)),
        (#"{"custom_id":"m4","result":{"type":"expired"}}"#, .entry(id: "m4", succeeded: false)),
        (
            #"{"custom_id":"m5","data":{"result":{"type":"succeeded"}},"success":false}"#,
            .entry(id: "m5", succeeded: false)
        ),
        (#"{"id":"a\"b\\c\/\u00e9\ud83d\ude00\n","success":true}"#, .entry(id: "a\"b\\c/é😀\n", succeeded: true)),
        (
            #"{"id":"e","response":"{\"status_code\":200, \"id\": \"z\"} ] [","success":true}"#,
            .entry(id: "e", succeeded: true)
        ),
        ("  { \"id\" : \"f\" ,\t\"success\" : false }  \r", .entry(id: "f", succeeded: false)),
        (
            #"{"id":"g","latency_ms":1.5e3,"tokens":{"total":-0,"x":[true,false,null]},"success":true}"#,
            .entry(id: "g", succeeded: true)
        ),
        (#"{"id":"é","success":true,"data":{"id":"other","success":false}}"#, .entry(id: "é", succeeded: true)),
        ("   ", .blank),
        ("", .blank),
        ("my precious notes", .invalid),
        (#"{"id":1,"success":true}"#, .invalid),
        (#"{"success":true}"#, .invalid),
        (#"{"id":"x","success":"yes"}"#, .invalid),
        (#"{"id":"x",}"#, .invalid),
        (#"{"id":"x""#, .invalid),
        (#"[{"id":"x"}]"#, .invalid),
        (#"{"id":"x"} extra"#, .invalid),
        (#"{"id":"x","a":tru}"#, .invalid),
        (#"{"id":"x","a":01}"#, .invalid),
        (#"{"id":"x","a":"\q"}"#, .invalid),
        (#"{"id":"x","a":[1,]}"#, .invalid),
        (#"{"id" "x"}"#, .invalid),
        (#"{"id":"x","a":1 2}"#, .invalid),
        (#"{"id":"\ud800","success":true}"#, .invalid),
        ("{\"id\":\"x\",\"a\":\"tab\there\"}", .invalid),
    ]

    @Test(arguments: 0..<table.count)
    func theScannerReadsTheIdAndTheOutcome(row: Int) {
        let (text, expected) = Self.table[row]
        #expect(Self.scan(Array(text.utf8) + [10], cuts: []) == [expected], "\(text)")
    }

    /// The same lines cut into chunks at random places (seeded): the same answers.
    @Test(arguments: 0..<30 as Range<UInt64>)
    func chunkBoundariesChangeNothing(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        let bytes = Array(Self.table.map(\.0).joined(separator: "\n").utf8) + [10]
        let cuts = (0..<20).map { _ in Int.random(in: 0...bytes.count, using: &random) }.sorted()
        #expect(Self.scan(bytes, cuts: cuts) == Self.table.map(\.1), "seed \(seed), cuts \(cuts)")
    }

    static func scan(_ bytes: [UInt8], cuts: [Int]) -> [JournalScanner.Line] {
        var scanner = JournalScanner()
        var lines: [JournalScanner.Line] = []
        var start = 0
        for end in cuts + [bytes.count] {
            bytes[start..<end].withUnsafeBytes { scanner.scan($0) { lines.append($0) } }
            start = end
        }
        return lines
    }

    /// A line of 20 MB (more than any input line may be) is read, and not kept.
    @Test func aLineOfTwentyMegabytesIsRead() async throws {
        let big = #"{"data":""# + String(repeating: "x", count: 20_000_000) + #"","id":"big","success":true}"#
        let output = try write("out.jsonl", big + "\n" + #"{"id":"small","success":false}"# + "\n")
        let journal = try await Journal.open(path: output, resume: true, retryFailed: true)
        #expect(journal.isDone("big") && !journal.isDone("small") && journal.entries == 2 && journal.failures == 1)
    }

    @Test func aTornLastLineIsCutBeforeAppending() async throws {
        let whole =
            #"{"id":"1","index":0,"success":true}"# + "\n"
            + #"{"id":"2","index":1,"success":false,"error":{"kind":"timeout"}}"# + "\n"
        let output = try write("out.jsonl", whole + #"{"id":"3","index":2,"succ"#)
        let journal = try await Journal.open(path: output, resume: true)
        #expect(journal.repairedBytes == #"{"id":"3","index":2,"succ"#.utf8.count)
        #expect(journal.isDone("1") && journal.isDone("2") && !journal.isDone("3"))
        #expect(try String(contentsOfFile: output, encoding: .utf8) == whole)
        let retrying = try await Journal.open(path: output, resume: true, retryFailed: true)
        #expect(retrying.isDone("1") && !retrying.isDone("2"))
    }

    /// The rule every reader applies to a file with several lines for an id (one a crash
    /// left before compaction): a success is final, otherwise the newest line.
    @Test func aSuccessIsFinalOtherwiseTheNewestLineCounts() async throws {
        let output = try write(
            "out.jsonl",
            [
                #"{"id":"a","success":false}"#, #"{"id":"a","success":true}"#, #"{"id":"b","success":true}"#,
                #"{"id":"b","success":false}"#, #"{"id":"c","success":false}"#, #"{"id":"c","success":false}"#,
            ].joined(separator: "\n") + "\n"
        )
        let retrying = try await Journal.open(path: output, resume: true, retryFailed: true)
        #expect(retrying.isDone("a") && retrying.isDone("b") && !retrying.isDone("c"))
    }

    /// Issue 20: a `--retry-failed` run killed before its compaction leaves two lines for a
    /// redone id; the next run (with or without `--retry-failed`) compacts them. On 991d846
    /// only a `--retry-failed` run that redid something compacted.
    @Test func theNextRunCompactsWhatAKilledRetryRunLeft() async throws {
        let input = try write("prompts.txt", "one\ntwo\n")
        let output = try write(
            "out.jsonl",
            [
                #"{"id":"1","index":0,"success":false,"error":{"kind":"timeout","message":"late"}}"#,
                #"{"id":"2","index":1,"success":true,"response":"fine"}"#,
                #"{"id":"1","index":0,"success":true,"response":"redone"}"#,
            ].joined(separator: "\n") + "\n"
        )
        let journal = try await Journal.open(path: output, resume: true)
        #expect(journal.superseded == 1 && journal.doneCount == 2)
        // Every item is done: nothing is sent (the base URL answers nothing), and the file is
        // compacted to one line per id.
        #expect(await pacer(["chat", input, "-o", output, "-q", "--base-url", "http://127.0.0.1:9/v1"]) == 0)
        let written = try lines(output)
        #expect(written.count == 2, "\(written)")
        #expect(written.first { $0["id"] as? String == "1" }?["response"] as? String == "redone")
    }

    @Test func compactionKeepsEachIdsLineAndCopiesTheRestByteForByte() async throws {
        let big = #"{"data":""# + String(repeating: "y", count: 3_000_000) + #"","id":"d","success":true}"#
        let lines = [
            #"{"id":"a","success":false,"attempts":1}"#, #"{"id":"b","success":true}"#,
            #"{"id":"a","success":false,"attempts":2}"#,
            #"{"id":"c","success":false,"attempts":1}"#, big, #"{"id":"a","success":true,"attempts":3}"#,
            #"{"id":"c","success":false,"attempts":2}"#, #"{"id":"e","success":true}"#, #"{"id":"e","success":false}"#,
        ]
        let output = try write("out.jsonl", lines.joined(separator: "\n") + "\n")
        try Data("stale".utf8).write(to: URL(fileURLWithPath: output + ".compacting"))
        #expect(try await JournalCompaction.compact(path: output, lines: lines.count) == 4)
        let expected = [lines[1], lines[4], lines[5], lines[6], lines[7]]
        #expect(try String(contentsOfFile: output, encoding: .utf8) == expected.joined(separator: "\n") + "\n")
        #expect(!FileManager.default.fileExists(atPath: output + ".compacting"))
        // Compacting again changes nothing.
        #expect(try await JournalCompaction.compact(path: output, lines: expected.count) == 0)
    }

    @Test(arguments: [UInt64(7), 8])
    func fingerprintsFindEveryIdInsertedAndNoOther(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var set = IDFingerprints()
        let ids = (0..<100_000).map { _ in "id-\(random.next())" }
        let inserted = ids.filter { set.insert($0) }.count
        #expect(inserted == ids.count && set.count == ids.count, "seed \(seed)")
        let again = ids.filter { set.insert($0) }.count
        #expect(again == 0 && ids.allSatisfy { set.contains($0) }, "seed \(seed)")
        #expect(!(0..<100_000).contains { _ in set.contains("other-\(random.next())") }, "seed \(seed)")
    }

    /// Defect 8 of issue 9: the ids a resume skips cost a fingerprint each, not a string in a
    /// `Set` (about 16 bytes a slot plus the string's own storage beyond 15 bytes): six bytes,
    /// an eighth of slack at most and the buckets' headers.
    @Test func aJournalHoldsUnderEightBytesADoneIdWhateverItsLength() async throws {
        let count = 200_000
        var text = ""
        for index in 0..<count { text += #"{"id":"a-rather-long-item-identifier-\#(index)","success":true}"# + "\n" }
        let output = try write("out.jsonl", text)
        let journal = try await Journal.open(path: output, resume: true)
        #expect(
            journal.entries == count && journal.isDone("a-rather-long-item-identifier-7")
                && !journal.isDone("a-rather-long-item-identifier-\(count)")
        )
        #expect(journal.storageBytes < count * 8, "\(journal.storageBytes) bytes for \(count) ids")
    }
}
