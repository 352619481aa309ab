import Foundation
import PacerCore
import PacerHTTP
import PacerJobs
import PacerOpenAI
import Testing

@testable import PacerCLI

/// Generated inputs for the readers and header parsers: arbitrary bytes never crash them (they
/// answer with an error naming a line, or with items), and valid inputs round-trip. Seeded,
/// so a failure repeats; the seed is in the test's arguments.
@Suite struct ParserFuzzTests: ScratchFolder {
    let directory: URL

    init() throws { directory = try makeScratchFolder() }

    /// Random bytes, biased towards the characters the parsers care about.
    static func bytes(_ count: Int, _ random: inout SplitMix64) -> [UInt8] {
        let interesting = Array("{}[]\":,\\\n\r 0123456789.-eEtrufalsn".utf8) + [0x00, 0xC3, 0xA9, 0xFF, 0xE2, 0x82]
        return (0..<count).map { _ in
            random.next() % 3 == 0
                ? UInt8(truncatingIfNeeded: random.next()) : interesting[Int(random.next() % UInt64(interesting.count))]
        }
    }

    /// A random string with quotes, backslashes, control characters and non-ASCII text.
    static func text(_ random: inout SplitMix64) -> String {
        let pieces = ["a", "Z", "9", " ", "\"", "\\", "\n", "\t", "é", "日本", "🙂", "{", "}", ",", "\u{0001}", "null"]
        return (0..<Int(random.next() % 40)).map { _ in pieces[Int(random.next() % UInt64(pieces.count))] }.joined()
    }

    @Test(arguments: 0..<40)
    func arbitraryBytesNeverCrashTheReaders(seed: UInt64) async throws {
        var random = SplitMix64(seed: seed)
        let data = Data(Self.bytes(Int(random.next() % 4000), &random))
        let file = path("fuzz-\(seed).bin")
        try data.write(to: URL(fileURLWithPath: file))
        for format in InputFormat.allCases {
            do {
                _ = try await ItemSource(path: file, format: format, parser: .chat).count()
            } catch let error as InputError {
                #expect(error.file == file && !error.message.isEmpty && !error.description.contains("\n"))
            }
            do {
                _ = try await ItemSource(path: file, format: format, parser: .fetch).count()
            } catch let error as InputError {
                #expect(error.file == file && !error.message.isEmpty && !error.description.contains("\n"))
            }
        }
        // The journal reader either reads it or says it is not Pacer output; it never crashes.
        do {
            _ = try await Journal.open(path: file, resume: true)
        } catch let error as InputError {
            #expect(error.file == file)
        }
    }

    @Test(arguments: 0..<20)
    func validChatJSONLRoundTrips(seed: UInt64) async throws {
        var random = SplitMix64(seed: seed)
        let prompts = (0..<20).map { index in
            (id: "id-\(seed)-\(index)-\(Self.text(&random))", text: Self.text(&random))
        }
        let encoder = JSONEncoder()
        let lines = try prompts.map { prompt in
            String(decoding: try encoder.encode(["id": prompt.id, "prompt": prompt.text]), as: UTF8.self)
        }
        let file = try write("chat-\(seed).jsonl", lines.joined(separator: "\n") + "\n")
        var read: [(String, String)] = []
        for try await item in try ItemSource(path: file, format: .auto, parser: .chat) {
            read.append((item.id, item.input.text))
        }
        #expect(read.map(\.0) == prompts.map(\.id))
        #expect(read.map(\.1) == prompts.map(\.text))
    }

    @Test(arguments: 0..<200)
    func headerParsersTakeAnyText(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        let raw = String(decoding: Self.bytes(Int(random.next() % 24), &random), as: UTF8.self)
        // Unknown or garbage is nil, never negative, never a crash.
        if let duration = RateLimitHeaders.parseDuration(raw) { #expect(duration >= .zero) }
        let hints = RetryHeaders(retryAfterMilliseconds: raw, retryAfter: raw, shouldRetry: raw, now: Date())
        if let wait = hints.retryAfter { #expect(wait >= .zero) }
    }

    @Test(arguments: 0..<100)
    func generatedDurationsParseBack(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        let hours = Int(random.next() % 3)
        let minutes = Int(random.next() % 60)
        let millis = Int(random.next() % 60_000)
        var text = hours > 0 ? "\(hours)h" : ""
        if hours > 0 || minutes > 0 { text += "\(minutes)m" }
        text += millis % 1000 == 0 ? "\(millis / 1000)s" : "\(Double(millis) / 1000)s"
        let parsed = try #require(RateLimitHeaders.parseDuration(text), "\(text)")
        let expected = Double(hours * 3600 + minutes * 60) + Double(millis) / 1000
        #expect(abs(parsed.pacerSeconds - expected) < 1e-6, "\(text)")
        #expect(RateLimitHeaders.parseDuration("\(millis)ms") == .milliseconds(millis))
    }
}
