import Foundation
import NIOCore
import PacerJSON
import Testing

@testable import PacerOpenAI

/// The response cache's keys, bounds and damage (issue 22).
@Suite struct ResponseCacheTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pacer-cache-\(UUID().uuidString)")
        .path

    func body(_ text: String) throws -> JSONValue { try JSONValue(parsing: text) }

    func entry(_ text: String) -> ResponseCache.Entry {
        ResponseCache.Entry(status: 200, requestID: "req_1", body: ByteBuffer(string: text))
    }

    @Test func theKeyIsTheEndpointAndTheBodyWhateverItsKeyOrder() throws {
        let one = ResponseCache.key(
            endpoint: "chat/completions",
            body: try body(#"{"model":"m","temperature":0,"messages":[]}"#)
        )
        let same = ResponseCache.key(
            endpoint: "chat/completions",
            body: try body(#"{"messages":[],"temperature":0,"model":"m"}"#)
        )
        let otherEndpoint = ResponseCache.key(
            endpoint: "responses",
            body: try body(#"{"model":"m","temperature":0,"messages":[]}"#)
        )
        let otherBody = ResponseCache.key(
            endpoint: "chat/completions",
            body: try body(#"{"model":"n","temperature":0,"messages":[]}"#)
        )
        #expect(one == same)
        #expect(one != otherEndpoint && one != otherBody)
        #expect(one.hex.count == 64)
    }

    @Test func answersDrawnAtRandomAreKeptOnlyWhenAskedFor() throws {
        let cache = try ResponseCache(configuration: .init(directory: directory))
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(cache.key(endpoint: "chat/completions", body: try body(#"{"model":"m","temperature":0}"#)) != nil)
        #expect(cache.key(endpoint: "chat/completions", body: try body(#"{"model":"m","temperature":0.0}"#)) != nil)
        #expect(cache.key(endpoint: "chat/completions", body: try body(#"{"model":"m","temperature":0.7}"#)) == nil)
        // No temperature is the API's default, 1.
        #expect(cache.key(endpoint: "messages", body: try body(#"{"model":"m"}"#)) == nil)
        #expect(cache.key(endpoint: "embeddings", body: try body(#"{"model":"e","input":"x"}"#)) != nil)
        #expect(cache.counts.nondeterministic == 2)
        let everything = try ResponseCache(configuration: .init(directory: directory, nondeterministic: true))
        #expect(
            everything.key(endpoint: "chat/completions", body: try body(#"{"model":"m","temperature":0.7}"#)) != nil
        )
    }

    @Test func aKeptAnswerReadsBackInAnotherProcessesCache() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let key = ResponseCache.key(endpoint: "embeddings", body: try body(#"{"input":"x"}"#))
        await (try ResponseCache(configuration: .init(directory: directory))).store(entry(#"{"data":[1]}"#), for: key)
        let reopened = try ResponseCache(configuration: .init(directory: directory))
        #expect(await reopened.entry(for: key) == entry(#"{"data":[1]}"#))
        #expect(await reopened.bytes > 0)
        let missing = ResponseCache.key(endpoint: "embeddings", body: try body(#"{"input":"y"}"#))
        #expect(await reopened.entry(for: missing) == nil)
        #expect(reopened.counts.hits == 1 && reopened.counts.misses == 1)
    }

    @Test func aDamagedEntryIsAMissNeverAnError() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cache = try ResponseCache(configuration: .init(directory: directory))
        let key = ResponseCache.key(endpoint: "embeddings", body: try body(#"{"input":"x"}"#))
        await cache.store(entry(#"{"data":[1]}"#), for: key)
        let file = try #require(
            FileManager.default.enumerator(atPath: directory)?.compactMap { $0 as? String }.first {
                $0.hasSuffix(key.hex)
            }
        )
        let path = directory + "/" + file
        let whole = try Data(contentsOf: URL(fileURLWithPath: path))
        for damaged in [Data(), Data("garbage".utf8), whole.prefix(20), Data(whole.map { $0 == 0x0A ? 0x20 : $0 })] {
            try damaged.write(to: URL(fileURLWithPath: path))
            #expect(await cache.entry(for: key) == nil)
        }
        // Another key's entry under this name is not this key's answer.
        let other = ResponseCache.key(endpoint: "embeddings", body: try body(#"{"input":"y"}"#))
        try Data(ResponseCache.encode(entry(#"{"data":[2]}"#), key: other)).write(to: URL(fileURLWithPath: path))
        #expect(await cache.entry(for: key) == nil)
    }

    @Test func theCacheStaysUnderItsBoundOldestOut() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let bound: Int64 = 64 * 1024
        let cache = try ResponseCache(configuration: .init(directory: directory, maxBytes: bound))
        let answer = #"{"data":""# + String(repeating: "x", count: 900) + #""}"#
        var keys: [ResponseCache.Key] = []
        for index in 0..<400 {
            let key = ResponseCache.key(endpoint: "embeddings", body: .object(["input": .string("text \(index)")]))
            keys.append(key)
            await cache.store(entry(answer), for: key)
            #expect(await cache.bytes <= bound)
        }
        #expect(cache.counts.evicted > 0)
        #expect(await cache.entry(for: keys[0]) == nil, "the oldest answers went first")
        #expect(await cache.entry(for: keys[399]) != nil, "the newest are kept")
        // What is on disk is what the cache counts, and a reopened cache counts it again.
        let reopened = try ResponseCache(configuration: .init(directory: directory, maxBytes: bound))
        let (reopenedBytes, cacheBytes) = (await reopened.bytes, await cache.bytes)
        #expect(reopenedBytes == cacheBytes)
    }
}
