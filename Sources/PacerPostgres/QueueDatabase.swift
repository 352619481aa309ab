import Logging
import PostgresNIO
import Synchronization

/// The queue's connection to PostgreSQL: a `PostgresClient` pool that counts its round trips
/// (the number a worker reports per item) and can wait out an outage.
///
/// Open it with ``withDatabase(_:logger:_:)``, which runs the pool for the duration of the
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
    /// this call: the queries do (see ``retrying(_:onOutage:_:)``).
    ///
    /// - Parameters:
    ///   - url: The database.
    ///   - logger: Where the pool logs (at debug level and below).
    ///   - body: The work.
    public static func withDatabase<T: Sendable>(
        _ url: DatabaseURL,
        logger: Logger = Logger(label: "pacer.postgres", factory: { _ in SwiftLogNoOpLogHandler() }),
        _ body: (QueueDatabase) async throws -> T
    ) async throws -> T {
        var configuration = url.clientConfiguration
        configuration.options.connectTimeout = .seconds(5)
        configuration.options.maximumConnections = 4
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
    /// - Parameters:
    ///   - what: What `body` does, for the messages ("store results").
    ///   - onOutage: Told of an outage and of its end.
    ///   - body: One attempt.
    /// - Throws: The first error that is not an outage, or `CancellationError`.
    public func retrying<T: Sendable>(
        _ what: String,
        onOutage: @escaping @Sendable (DatabaseOutage) -> Void,
        _ body: () async throws -> T
    ) async throws -> T {
        var wait = 0.5
        var down: ContinuousClock.Instant?
        while true {
            try Task.checkCancellation()
            let attemptStarted = ContinuousClock.now
            let alreadyReported = down != nil
            let outcome: Result<T, any Error> = await withWatchdog(
                after: .seconds(3),
                onSlow: {
                    if !alreadyReported { onOutage(.slow(what: what, database: self.url)) }
                },
                body
            )
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
                            reason: DatabaseFailure.describe(error),
                            retryIn: wait
                        )
                    )
                }
                try await Task.sleep(for: .milliseconds(Int(wait * 1000)))
                wait = min(wait * 2, 5)
            }
        }
    }

    /// `body`'s outcome; `onSlow` is called once if it takes longer than `patience`.
    private func withWatchdog<T: Sendable>(
        after patience: Duration,
        onSlow: @escaping @Sendable () -> Void,
        _ body: () async throws -> T
    ) async -> Result<T, any Error> {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                if (try? await Task.sleep(for: patience)) != nil { onSlow() }
            }
            defer { group.cancelAll() }
            do {
                return .success(try await body())
            } catch {
                return .failure(error)
            }
        }
    }
}

/// What ``QueueDatabase/retrying(_:onOutage:_:)`` tells about an outage, for a message.
public enum DatabaseOutage: Sendable, CustomStringConvertible {
    /// The database has not answered for a while (the pool is still trying to connect).
    case slow(what: String, database: DatabaseURL)
    /// The database cannot be reached; the work is tried again after `retryIn` seconds, and
    /// then at growing intervals.
    case unreachable(what: String, database: DatabaseURL, reason: String, retryIn: Double)
    /// The database answered again after `afterSeconds`.
    case back(what: String, afterSeconds: Double)

    /// One line for a person (the URL without its password).
    public var description: String {
        switch self {
        case .slow(let what, let database):
            "waiting for the database at \(database) to \(what) (no answer yet; retrying until it is back)"
        case .unreachable(let what, let database, let reason, let retryIn):
            "cannot reach the database at \(database) to \(what): \(reason); "
                + "retrying in \(retryIn < 1 ? "\(Int(retryIn * 1000)) ms" : "\(Int(retryIn)) s") "
                + "and then with back-off until it is back"
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
