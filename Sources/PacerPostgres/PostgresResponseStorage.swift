import NIOCore
import PacerCore
import PostgresNIO
import Synchronization

/// A response cache's entries in PostgreSQL (`--cache postgres://…`), shared by every machine
/// of a fleet: an answer one worker paid for is every worker's.
///
/// - **A lookup** is one round trip (`SELECT` by key); **a store** one more (an upsert).
/// - **Bounded, oldest out first**: after every sixteenth of the bound this process stores,
///   it asks `pacer_cache_evict` to delete the oldest rows while the whole is over the bound
///   (one process at a time), and once when it opens. So the table passes its bound by at most a
///   sixteenth per process between two evictions.
/// - **An outage is a miss**: a lookup that fails or goes unanswered for 5 s finds nothing,
///   and the request is sent; a store that fails keeps nothing. After a failure the table is
///   left alone for 10 s (every lookup a miss at once), so that a database that is down costs
///   a run 5 s per 10 s at most, not 5 s per request. ``failures`` counts them, so that the
///   run can say so.
public final class PostgresResponseStorage: ResponseStorage {
    /// The most bytes the table holds, across every process that stores into it.
    public let maxBytes: Int64
    private let database: QueueDatabase
    private let state = Mutex(State())

    private struct State {
        var sinceEviction: Int64 = 0
        var failures = 0
        var restingUntil: ContinuousClock.Instant?
    }

    /// How long a lookup or a store may go unanswered before it counts as failed.
    static let patience: Duration = .seconds(5)

    /// How long the table is left alone after a failure.
    static let rest: Duration = .seconds(10)

    /// A storage in `database` (which must stay open while it is used), holding at most `maxBytes`.
    public init(database: QueueDatabase, maxBytes: Int64 = 1 << 30) {
        self.database = database
        self.maxBytes = maxBytes
    }

    /// Creates the table if needed, and evicts the oldest rows over the bound.
    public func prepare() async throws {
        try await ResponseCacheSchema.migration.prepare(database)
        _ = try await evict()
    }

    /// Lookups and stores that did not reach the table: they failed, went unanswered for 5 s,
    /// or came while it rested after such a failure.
    public var failures: Int { state.withLock { $0.failures } }

    /// The entry's bytes; `nil` when there is none or the lookup failed.
    public func value(for key: String) async -> [UInt8]? {
        let database = database
        let found = await attempt { () async throws -> [UInt8]? in
            for try await value in try await database.query("SELECT value FROM pacer_cache WHERE key = \(key)")
                .decode(ByteBuffer.self)
            {
                return Array(value.readableBytesView)
            }
            return nil
        }
        return found ?? nil
    }

    /// Keeps the entry (replacing one under the same key), and evicts the oldest rows over
    /// the bound after every sixteenth of it this process stored.
    public func store(_ value: [UInt8], for key: String) async -> Int? {
        let (database, buffer, size) = (database, ByteBuffer(bytes: value), Int32(clamping: value.count))
        let stored: Void? = await attempt {
            let rows = try await database.query(
                """
                INSERT INTO pacer_cache (key, value, bytes) VALUES (\(key), \(buffer), \(size))
                ON CONFLICT (key) DO UPDATE SET value = excluded.value, bytes = excluded.bytes,
                    stored_at = clock_timestamp()
                """
            )
            for try await _ in rows {}
        }
        guard stored != nil else { return nil }
        let due = state.withLock { state in
            state.sinceEviction += Int64(value.count)
            guard state.sinceEviction > maxBytes / 16 else { return false }
            state.sinceEviction = 0
            return true
        }
        guard due else { return 0 }
        return (try? await evict()) ?? 0
    }

    /// Runs `body` unless the table is resting after a failure, giving up on it after
    /// ``patience``; `nil` when it failed, gave up (the table then rests) or did not run, each
    /// counted in ``failures``.
    private func attempt<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async -> T? {
        let resting = state.withLock { state in
            guard let until = state.restingUntil, ContinuousClock.now < until else { return false }
            state.failures += 1
            return true
        }
        guard !resting else { return nil }
        // The first of the answer and the patience's end wins. The statement is cancelled and
        // not waited for: a task group would wait for it, and a statement the pool cannot
        // place while the database is down may not end at its cancellation (seen: a test
        // waiting for good after the database stopped).
        let (events, continuation) = AsyncStream<Result<T, any Error>?>.makeStream()
        let work = Task {
            do { continuation.yield(.success(try await body())) } catch { continuation.yield(.failure(error)) }
        }
        let timer = Task {
            try? await Task.sleep(for: Self.patience)
            continuation.yield(nil)
        }
        defer {
            work.cancel()
            timer.cancel()
            continuation.finish()
        }
        var outcome: Result<T, any Error>?
        for await event in events {
            outcome = event
            break
        }
        if case .success(let value) = outcome { return value }
        state.withLock { state in
            state.failures += 1
            state.restingUntil = .now + Self.rest
        }
        return nil
    }

    /// The bytes the table holds now (one round trip over the whole table); 0 when it
    /// cannot be read.
    public var bytes: Int64 {
        get async {
            let rows = try? await database.query("SELECT coalesce(sum(bytes), 0)::bigint FROM pacer_cache")
            guard let rows else { return 0 }
            do {
                for try await total in rows.decode(Int64.self) { return total }
            } catch {
                return 0
            }
            return 0
        }
    }

    /// Deletes the oldest rows while the table is over the bound; how many went.
    private func evict() async throws -> Int {
        let database = database
        return try await database.abandoning(after: .seconds(60), "evict old answers from the cache") { [maxBytes] in
            for try await removed in try await database.query("SELECT pacer_cache_evict(\(maxBytes))")
                .decode(Int.self)
            {
                return removed
            }
            return 0
        }
    }
}
