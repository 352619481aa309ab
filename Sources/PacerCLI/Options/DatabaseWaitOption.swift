import ArgumentParser
import PacerJobs
import PacerPostgres
import Synchronization

/// How long a command a person runs and waits on (`queue push`, `status`, `drop`, `export`)
/// waits for a database it cannot reach before it gives up with a message: `--wait-for-db`.
///
/// A worker waits out an outage, however long, because it holds work in flight; a person who
/// typed `pacer queue push` against a database that is down would otherwise be left waiting
/// until Ctrl-C.
struct DatabaseWaitOption: ParsableArguments {
    @Option(
        name: .customLong("wait-for-db"),
        help: ArgumentHelp(
            "How long to wait for a database that cannot be reached before giving up, in seconds (0: until Ctrl-C).",
            valueName: "seconds"
        )
    )
    var seconds: Double = 30

    func validate() throws {
        guard seconds.isFinite, seconds >= 0, seconds <= 86_400 else {
            throw ValidationError("--wait-for-db must be 0 to 86400 seconds")
        }
    }

    /// Runs `body`, which reaches the database with outages told to the `onOutage` it is
    /// given (pass it to ``QueueDatabase/retrying(_:abandonAfter:onOutage:_:)``). Once the
    /// wait has passed while the database is found unreachable (not merely slow: a long drop
    /// or export on a database that answers is let be), `body` is cancelled and the command
    /// ends with an ``InputError`` (exit status 2) that names the database.
    ///
    /// - Parameters:
    ///   - url: The database, for the message.
    ///   - flag: The flag that named it, for the message.
    ///   - onOutage: Told of each outage as usual (the reporter that prints them).
    ///   - body: The work, handed the outage callback to use.
    func reaching<T: Sendable>(
        _ url: DatabaseURL,
        flag: String = "--db",
        onOutage: @escaping @Sendable (DatabaseOutage) -> Void,
        _ body: @escaping @Sendable (_ onOutage: @escaping @Sendable (DatabaseOutage) -> Void) async throws -> T
    ) async throws -> T {
        guard seconds > 0 else { return try await body(onOutage) }
        let limit = seconds
        let unreachable = UnreachableFlag()
        let watched: @Sendable (DatabaseOutage) -> Void = { outage in
            unreachable.note(outage)
            onOutage(outage)
        }
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body(watched) }
            group.addTask {
                try await Task.sleep(for: .seconds(limit))
                while !unreachable.isSet { try await Task.sleep(for: .milliseconds(250)) }
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else {
                throw InputError(
                    file: url.description,
                    message: "could not reach the database in \(limit.formatted) s; "
                        + "check that it is running and that \(flag) names it, or wait longer with --wait-for-db"
                )
            }
            return value
        }
    }
}

extension DatabaseWaitOption {
    /// Runs `prepare`, which makes what `flag` names in `database` ready (`what`: "the
    /// cache", "the shared quota"), waiting for a database that cannot be reached as
    /// ``reaching(_:flag:onOutage:_:)`` does, and saying so unless `quiet`.
    ///
    /// - Throws: An ``InputError`` naming the database for any failure but cancellation.
    func preparing(
        _ what: String,
        in database: QueueDatabase,
        flag: String,
        quiet: Bool,
        _ prepare: @escaping @Sendable () async throws -> Void
    ) async throws {
        do {
            let outages = RunConsole.outages(quiet: quiet)
            try await reaching(database.url, flag: flag, onOutage: outages.report) { onOutage in
                try await database.retrying("prepare \(what)", onOutage: onOutage) { try await prepare() }
            }
        } catch is CancellationError {
            throw CancellationError()
        } catch let error as InputError {
            throw error
        } catch {
            throw InputError(
                file: database.url.description,
                message: "cannot prepare \(what): \(DatabaseFailure.describe(error))"
            )
        }
    }
}

/// Whether the database was last found unreachable (not merely slow, and not back since).
private final class UnreachableFlag: Sendable {
    private let state = Mutex(false)

    func note(_ outage: DatabaseOutage) {
        state.withLock { unreachable in
            switch outage {
            case .unreachable: unreachable = true
            case .slow, .back: unreachable = false
            }
        }
    }

    var isSet: Bool { state.withLock { $0 } }
}

extension Double {
    /// The number without a trailing `.0` (`30`, `2.5`).
    fileprivate var formatted: String {
        self == rounded() && abs(self) < 1e15 ? String(Int(self)) : String(self)
    }
}
