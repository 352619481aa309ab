import ArgumentParser
import Foundation
import PacerJobs
import PacerOpenAI
import PacerPostgres

/// `--cache DIR` or `--cache postgres://…`: answers kept in a folder, or in a table a fleet
/// shares, and given again without a request (``ResponseCache``), for every command that
/// sends API requests one by one.
struct CacheOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Keep answers in this folder (or a PostgreSQL database every machine shares: postgres://USER@HOST/DB) and give a request already answered its kept answer, without sending it.",
            discussion:
                "The key is the endpoint and the request body (keys sorted), never the API key or headers. Only successes are kept. Requests whose answer is drawn at random (a temperature above 0, or none: the API's default is 1) are kept only with --cache-nondeterministic; embeddings and moderations always are. A database that cannot be reached is a miss: the request is sent.",
            valueName: "dir or url"
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
                guard Self.isDatabase(cache) else {
                    throw ValidationError("--cache takes a folder or a postgres:// URL, got a URL of another kind")
                }
                do {
                    _ = try DatabaseURL(cache)
                } catch {
                    throw ValidationError("--cache: \(error)")
                }
            }
            if cache.isEmpty { throw ValidationError("--cache needs a folder or a postgres:// URL") }
        } else if cacheMaxBytes != nil || cacheNondeterministic {
            throw ValidationError("--cache-max-bytes and --cache-nondeterministic go with --cache")
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

    /// Whether `text` names a PostgreSQL database rather than a folder.
    static func isDatabase(_ text: String) -> Bool {
        text.hasPrefix("postgres://") || text.hasPrefix("postgresql://")
    }

    /// Runs `body` with the cache these options name (`nil` without `--cache`), open for as
    /// long as it runs: a folder, or a table in a database, which is waited for at the start
    /// as `--quota`'s is (`--wait-for-db`). Says afterwards what the cache could not do.
    ///
    /// - Throws: ``InputError`` naming the folder or the database when it cannot be used.
    func withCache<T: Sendable>(
        _ run: RunOptions,
        _ body: (ResponseCache?) async throws -> T
    ) async throws -> T {
        guard let text = cache, Self.isDatabase(text) else {
            let cache = try open()
            let result = try await body(cache)
            report(cache, quiet: run.quiet)
            return result
        }
        let url = try DatabaseURL(text)
        return try await QueueDatabase.withDatabase(url) { database in
            let storage = PostgresResponseStorage(database: database, maxBytes: try maxBytes())
            var wait = DatabaseWaitOption()
            wait.seconds = run.waitForDatabase
            try await wait.preparing("the cache", in: database, flag: "--cache", quiet: run.quiet) {
                try await storage.prepare()
            }
            let cache = ResponseCache(storage: storage, nondeterministic: cacheNondeterministic)
            let result = try await body(cache)
            report(cache, quiet: run.quiet)
            if storage.failures > 0, !run.quiet {
                Console.error(
                    "cache: \(storage.failures) lookups or stores in \(url) failed or went unanswered; "
                        + "those requests were sent, and their answers may not be kept"
                )
            }
            return result
        }
    }

    /// The folder cache these options name, opened; `nil` without `--cache`.
    ///
    /// - Throws: ``InputError`` naming the folder when it cannot be made or read.
    private func open() throws -> ResponseCache? {
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
    private func report(_ cache: ResponseCache?, quiet: Bool) {
        guard let cache, !quiet else { return }
        let skipped = cache.counts.nondeterministic
        guard skipped > 0 else { return }
        Console.error(
            "cache: \(skipped) requests were not looked up or kept: their answers are drawn at random (temperature above 0, or unset); --cache-nondeterministic keeps them too"
        )
    }
}
