import ArgumentParser
import Foundation
import PacerJobs
import PacerOpenAI

/// `--cache DIR`: answers kept on disk and given again without a request
/// (``ResponseCache``), for every command that sends API requests one by one.
struct CacheOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Keep answers in this folder and give a request already answered its kept answer, without sending it.",
            discussion:
                "The key is the endpoint and the request body (keys sorted), never the API key or headers. Only successes are kept. Requests whose answer is drawn at random (a temperature above 0, or none: the API's default is 1) are kept only with --cache-nondeterministic; embeddings and moderations always are.",
            valueName: "dir"
        )
    )
    var cache: String?

    @Option(
        help: ArgumentHelp(
            "The most the cache holds, in bytes (suffixes K, M, G); the oldest answers go first. (default: 1G)",
            valueName: "size"
        )
    )
    var cacheMaxBytes: String?

    @Flag(
        help:
            "With --cache: keep and reuse answers of requests sampled at random too (temperature above 0 or unset), so a rerun gets the same answer, not a new draw."
    )
    var cacheNondeterministic = false

    func validate() throws {
        if let cache {
            if cache.contains("://") {
                throw ValidationError(
                    "--cache takes a folder; '\(cache)' is a URL (a cache shared through a database is not supported yet)"
                )
            }
            if cache.isEmpty { throw ValidationError("--cache needs a folder") }
        } else if cacheMaxBytes != nil || cacheNondeterministic {
            throw ValidationError("--cache-max-bytes and --cache-nondeterministic go with --cache DIR")
        }
        _ = try maxBytes()
    }

    /// `--cache-max-bytes` in bytes.
    func maxBytes() throws -> Int64 {
        guard let text = cacheMaxBytes else { return 1 << 30 }
        guard let bytes = Self.bytes(text), bytes >= 1 << 20, bytes <= 1 << 50 else {
            throw ValidationError(
                "--cache-max-bytes must be a size from 1M to 1024T (a number of bytes, or with K, M, G or T), got '\(text)'"
            )
        }
        return bytes
    }

    /// A size such as `500M` or `2G` (powers of 1024), or a number of bytes.
    static func bytes(_ text: String) -> Int64? {
        let units: [Character: Int64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
        var digits = Substring(text.uppercased())
        var scale: Int64 = 1
        if let last = digits.last, let unit = units[last] {
            scale = unit
            digits = digits.dropLast()
        }
        guard let value = Int64(digits), value >= 0 else { return nil }
        let (product, overflow) = value.multipliedReportingOverflow(by: scale)
        return overflow ? nil : product
    }

    /// The cache these options name, opened; `nil` without `--cache`.
    ///
    /// - Throws: ``InputError`` naming the folder when it cannot be made or read.
    func open() throws -> ResponseCache? {
        guard let cache else { return nil }
        do {
            return try ResponseCache(
                configuration: .init(
                    directory: cache,
                    maxBytes: try maxBytes(),
                    nondeterministic: cacheNondeterministic
                )
            )
        } catch let error as ValidationError {
            throw error
        } catch {
            throw InputError(file: cache, message: "cannot use this folder as the cache: \(error.localizedDescription)")
        }
    }

    /// Says, after the summary, how many requests were not looked up because their answers
    /// are drawn at random, and how to keep them.
    func report(_ cache: ResponseCache?, quiet: Bool) {
        guard let cache, !quiet else { return }
        let skipped = cache.counts.nondeterministic
        guard skipped > 0 else { return }
        Console.error(
            "cache: \(skipped) requests were not looked up or kept: their answers are drawn at random (temperature above 0, or unset); --cache-nondeterministic keeps them too"
        )
    }
}
