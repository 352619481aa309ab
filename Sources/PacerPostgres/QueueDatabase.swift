import Logging
import PostgresNIO
import Synchronization
import _ConnectionPoolModule

/// The queue's connection to PostgreSQL: a `PostgresClient` pool that counts its round trips
/// (the number a worker reports per item) and can wait out an outage.
///
/// Open it with ``withDatabase(_:maximumConnections:logger:_:)``, which runs the pool for the duration of the
/// body. Every query is one round trip; a transaction is one per statement plus `BEGIN` and
/// `COMMIT`.
public final class QueueDatabase: Sendable {
    /// Where it connects (printed without the password).
    public let url: DatabaseURL
    let client: PostgresClient
    let logger: Logger
    private let trips = Atomic<Int>(0)

    /// Round trips made so far: queries, transaction statements, COPY operations.
    public var roundTrips: Int { trips.load(ordering: .relaxed) }

    private init(url: DatabaseURL, client: PostgresClient, logger: Logger) {
        self.url = url
        self.client = client
        self.logger = logger
    }

    /// Runs `body` with a database connected to `url`; the pool's connections close when it
    /// returns. Connecting happens on the first query, so a server that is down does not fail
    /// this call: the queries do (see ``retrying(_:abandonAfter:onOutage:_:)``).
    ///
    /// - Parameters:
    ///   - url: The database.
    ///   - maximumConnections: The most connections the pool opens (it opens them as needed).
    ///     Default 4; a worker, whose shared quota also holds one to listen on, takes 6.
    ///   - logger: Where the pool logs (at debug level and below).
    ///   - body: The work.
    public static func withDatabase<T: Sendable>(
        _ url: DatabaseURL,
        maximumConnections: Int = 4,
        logger: Logger = Logger(label: "pacer.postgres", factory: { _ in SwiftLogNoOpLogHandler() }),
        _ body: (QueueDatabase) async throws -> T
    ) async throws -> T {
        var configuration = url.clientConfiguration
        configuration.options.connectTimeout = .seconds(5)
        configuration.options.maximumConnections = maximumConnections
        // A restarted server's connections are dead: find out on the next query, not in 30 s.
        configuration.options.keepAliveBehavior = .init(frequency: .seconds(10))
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        let database = QueueDatabase(url: url, client: client, logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            return try await body(database)
        }
    }

    /// Calls `onNotification` with the payload of every `NOTIFY` on `channel` until cancelled,
    /// and once more each time it starts listening (so that a caller can look for what it
    /// may have missed meanwhile); listens again 1 s after an outage, logging why to `logger`
    /// (default: the database's). Holds one connection.
    func listen(
        on channel: String,
        logger: Logger? = nil,
        _ onNotification: @escaping @Sendable (String?) -> Void
    ) async throws {
        while !Task.isCancelled {
            do {
                try await client.withConnection { connection in
                    try await connection.listen(on: channel) { notifications in
                        onNotification(nil)
                        for try await notification in notifications { onNotification(notification.payload) }
                    }
                }
            } catch is CancellationError {
                return
            } catch {
                (logger ?? self.logger).debug("listener on \(channel): \(error); listening again in 1 s")
            }
            try await Task.sleep(for: .seconds(1))
        }
    }

    /// Runs one statement and returns its rows (one round trip).
    @discardableResult
    func query(_ query: PostgresQuery) async throws -> PostgresRowSequence {
        trips.add(1, ordering: .relaxed)
        return try await client.query(query, logger: logger)
    }

    /// Runs `body` in a transaction on one connection, counting `statements` round trips plus
    /// `BEGIN` and `COMMIT`.
    func transaction<T: Sendable>(
        statements: Int,
        _ body: (PostgresConnection) async throws -> T
    ) async throws -> T {
        trips.add(statements + 2, ordering: .relaxed)
        do {
            return try await client.withTransaction(logger: logger) { connection in try await body(connection) }
        } catch let error as PostgresTransactionError {
            // The error that matters: the body's (the rollback's, if any, changes nothing).
            throw error.closureError ?? error.beginError ?? error.commitError ?? error
        }
    }

    /// Counts round trips made on a connection handed out by ``transaction(statements:_:)``
    /// beyond those it was told about.
    func count(roundTrips: Int) {
        trips.add(roundTrips, ordering: .relaxed)
    }

    /// Runs `body`, and while the database cannot be reached, runs it again after a growing
    /// wait (0.5 s doubling to 5 s), telling `onOutage` what is happening: once when the
    /// database is first found unreachable or slow to answer (after 3 s), and once when it
    /// answers again. Errors that waiting cannot fix (a bad query, a refused login) are
    /// thrown at once.
    ///
    /// The pool behind the client keeps trying to connect while a query waits, and says why
    /// only after a minute. So when an attempt is slow, or the pool gives up, a connection of
    /// its own tells the reason: a server that is down is waited for; a wrong password, a
    /// missing database or a server without TLS ends the wait with that error.
    ///
    /// - Parameters:
    ///   - what: What `body` does, for the messages ("store results").
    ///   - abandonAfter: How long an attempt may go unanswered while the database answers a
    ///     new connection before it is abandoned and tried again; `nil` (for work that may
    ///     take long, such as a COPY) waits for it however long it takes.
    ///   - onOutage: Told of an outage and of its end.
    ///   - body: One attempt.
    /// - Throws: The first error that is not an outage, or `CancellationError`.
    public func retrying<T: Sendable>(
        _ what: String,
        abandonAfter: Duration? = nil,
        onOutage: @escaping @Sendable (DatabaseOutage) -> Void,
        _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        var wait = 0.5
        var down: ContinuousClock.Instant?
        while true {
            try Task.checkCancellation()
            let attemptStarted = ContinuousClock.now
            let alreadyReported = down != nil
            var outcome = await attempt(
                what,
                reported: alreadyReported,
                abandonAfter: abandonAfter,
                onOutage: onOutage,
                body
            )
            if case .failure(let error) = outcome, error is ConnectionPoolError, let reason = await probe() {
                // The pool gave up connecting: say why, and stop here if waiting cannot help.
                outcome = .failure(reason)
            }
            switch outcome {
            case .success(let value):
                if let down {
                    onOutage(.back(what: what, afterSeconds: down.duration(to: .now).secondsValue))
                } else if attemptStarted.duration(to: .now) > .seconds(3) {
                    onOutage(.back(what: what, afterSeconds: attemptStarted.duration(to: .now).secondsValue))
                }
                return value
            case .failure(let error):
                guard DatabaseFailure.isOutage(error), !Task.isCancelled else { throw error }
                if down == nil {
                    down = attemptStarted
                    onOutage(
                        .unreachable(
                            what: what,
                            database: url,
                            reason: DatabaseFailure.describe(error)
                        )
                    )
                }
                try await Task.sleep(for: .milliseconds(Int(wait * 1000)))
                wait = min(wait * 2, 5)
            }
        }
    }

    /// Runs `body` once, abandoning it (``DatabaseFailure/Unanswered``) when it has no answer
    /// after `limit` while the database answers a new connection; for callers that retry on
    /// their own. Errors are `body`'s, as they come.
    package func abandoning<T: Sendable>(
        after limit: Duration,
        _ what: String,
        _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        try await attempt(what, reported: true, abandonAfter: limit, onOutage: { _ in }, body).get()
    }

    /// One attempt at `body`. If it has not ended after 3 s, a connection of its own finds out
    /// why: a reason waiting cannot fix (a refused login) ends the attempt with that error;
    /// otherwise `onOutage` hears that the database is slow or unreachable, once.
    ///
    /// With `abandonAfter`, an attempt still unanswered that long while a new connection to
    /// the database succeeds is abandoned as an outage, so that ``retrying(_:abandonAfter:onOutage:_:)``
    /// tries again: after a server restart the pool can hand out a connection whose statements
    /// are never answered (seen once with postgres-nio 1.33, a worker waiting 20 minutes). The
    /// abandoned statement is cancelled but not waited for.
    private func attempt<T: Sendable>(
        _ what: String,
        reported: Bool,
        abandonAfter: Duration?,
        onOutage: @escaping @Sendable (DatabaseOutage) -> Void,
        _ body: @escaping @Sendable () async throws -> T
    ) async -> Result<T, any Error> {
        let (events, continuation) = AsyncStream<AttemptEvent<T>>.makeStream()
        let work = Task {
            do {
                continuation.yield(.finished(.success(try await body())))
            } catch {
                continuation.yield(.finished(.failure(error)))
            }
        }
        let watch = Task {
            let started = ContinuousClock.now
            guard (try? await Task.sleep(for: .seconds(3))) != nil else { return }
            continuation.yield(.slow(reason: await self.probe()))
            guard let abandonAfter else { return }
            guard (try? await Task.sleep(until: started + abandonAfter)) != nil else { return }
            if await self.probe() == nil { continuation.yield(.unanswered(abandonAfter)) }
        }
        defer {
            work.cancel()
            watch.cancel()
            continuation.finish()
        }
        for await event in events {
            switch event {
            case .finished(let outcome):
                return outcome
            case .slow(let reason?) where !DatabaseFailure.isOutage(reason):
                return .failure(reason)
            case .slow(let reason):
                if !reported {
                    if let reason {
                        onOutage(.unreachable(what: what, database: url, reason: DatabaseFailure.describe(reason)))
                    } else {
                        onOutage(.slow(what: what, database: url))
                    }
                }
            case .unanswered(let after):
                return .failure(DatabaseFailure.Unanswered(after: after))
            }
        }
        // The stream ends early only when this task is cancelled.
        return .failure(CancellationError())
    }

    /// Why a connection of its own cannot be made now; `nil` when it can.
    func probe() async -> (any Error)? {
        do {
            var configuration = try url.connectionConfiguration()
            configuration.options.connectTimeout = .seconds(5)
            let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
            try? await connection.close()
            return nil
        } catch {
            return error
        }
    }
}

/// What happened in an attempt: it ended; it was slow (and why, if a connection of its own
/// found a reason); or it went unanswered while the database answers others.
private enum AttemptEvent<T: Sendable>: Sendable {
    case finished(Result<T, any Error>)
    case slow(reason: (any Error)?)
    case unanswered(Duration)
}

/// What ``QueueDatabase/retrying(_:abandonAfter:onOutage:_:)`` tells about an outage, for a message.
public enum DatabaseOutage: Sendable, CustomStringConvertible {
    /// The database has not answered for a while (the pool is still trying to connect).
    case slow(what: String, database: DatabaseURL)
    /// The database cannot be reached, for `reason`; the work is tried again with back-off.
    case unreachable(what: String, database: DatabaseURL, reason: String)
    /// The database answered again after `afterSeconds`.
    case back(what: String, afterSeconds: Double)

    /// One line for a person (the URL without its password).
    public var description: String {
        switch self {
        case .slow(let what, let database):
            "waiting for the database at \(database) to \(what): no answer yet; trying until it answers"
        case .unreachable(let what, let database, let reason):
            "waiting for the database at \(database) to \(what): \(reason); trying again with back-off until it is back"
        case .back(let what, let seconds):
            "the database answered again after \(Int(seconds.rounded())) s; carrying on (\(what))"
        }
    }
}

extension Duration {
    /// The duration in seconds.
    var secondsValue: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
