import Foundation
import PacerCore
import PacerJobs
import PacerPostgres

/// `--quota postgres://…?quota=NAME` (or `PACER_QUOTA_URL`): the run paces against a quota
/// shared through PostgreSQL with every other process that names it (issue 13).
enum SharedQuotaOption {
    /// The quota's name and the database that holds it, from a URL such as
    /// `postgres://pacer@db.internal/pacer?quota=openai-org` (default name `default`).
    struct Address {
        var database: DatabaseURL
        var name: String

        init(_ text: String) throws {
            database = try DatabaseURL(text)
            let query = URLComponents(string: text)?.queryItems ?? []
            name = query.first(where: { $0.name == "quota" })?.value.flatMap { $0.isEmpty ? nil : $0 } ?? "default"
        }

        init(database: DatabaseURL, name: String) {
            self.database = database
            self.name = name
        }
    }

    /// The URL given with `--quota`, else `PACER_QUOTA_URL`; `nil` when neither is set.
    static func url(_ options: RunOptions) -> String? {
        if let quota = options.quota, !quota.isEmpty { return quota }
        let variable = Environment.current["PACER_QUOTA_URL"] ?? ""
        return variable.isEmpty ? nil : variable
    }

    /// One quota a run wants shared: its row is the name the options give, or
    /// `NAME/SUFFIX` for one deployment of a routed run.
    struct Wanted: Sendable {
        /// What follows the quota's name in its row's (a deployment's name), or `nil`.
        var suffix: String?
        /// Its limits.
        var limits: RateLimits
        /// This process's share of retries, or `nil` for none of its own.
        var retryBudget: RetryBudget?

        /// The row's name under quota `name`.
        func name(under name: String) -> String { suffix.map { "\(name)/\($0)" } ?? name }
    }

    /// Runs `body` with the shared quota the options name (listening for its pauses while
    /// `body` runs), else quota `fallback.name` in `fallback.database` (a worker's: `default`
    /// in the queue's database, on the queue's own connections), or with `nil` when there is
    /// none or `--quota off`. After the run, says how many leases pacing took, unless quiet.
    static func with<T: Sendable>(
        _ options: RunOptions,
        configuration: BatchConfiguration,
        fallback: (database: QueueDatabase, name: String)? = nil,
        _ body: ((any QuotaProtocol<ContinuousClock>)?) async throws -> T
    ) async throws -> T {
        let wanted = Wanted(limits: configuration.pacing ?? RateLimits(), retryBudget: configuration.retryBudget)
        return try await with(options, quotas: [wanted], fallback: fallback) { try await body($0?.first) }
    }

    /// Runs `body` with the `wanted` quotas shared as ``with(_:configuration:fallback:_:)``
    /// says, in the same order, all in one database; with `nil` when there are none.
    static func with<T: Sendable>(
        _ options: RunOptions,
        quotas wanted: [Wanted],
        fallback: (database: QueueDatabase, name: String)? = nil,
        _ body: ([PostgresQuota]?) async throws -> T
    ) async throws -> T {
        switch url(options) {
        case "off"?:
            return try await body(nil)
        case let text?:
            let address: Address
            do {
                address = try Address(text)
            } catch {
                throw InputError(file: "--quota", message: "\(error)")
            }
            var wait = DatabaseWaitOption()
            wait.seconds = options.waitForDatabase
            return try await QueueDatabase.withDatabase(address.database) { database in
                try await using(database, name: address.name, wanted, options: options, wait: wait, body)
            }
        case nil:
            guard let fallback else { return try await body(nil) }
            // A worker's own queue database: it waits out any outage, as for the queue.
            var wait = DatabaseWaitOption()
            wait.seconds = 0
            return try await using(fallback.database, name: fallback.name, wanted, options: options, wait: wait, body)
        }
    }

    /// Runs `body` with the `wanted` quotas under `name` in `database`, giving up on a
    /// database that cannot be reached after `wait`.
    private static func using<T: Sendable>(
        _ database: QueueDatabase,
        name: String,
        _ wanted: [Wanted],
        options: RunOptions,
        wait: DatabaseWaitOption,
        _ body: ([PostgresQuota]?) async throws -> T
    ) async throws -> T {
        let quotas = wanted.map { wanted in
            PostgresQuota(
                database: database,
                configuration: .init(name: wanted.name(under: name), limits: wanted.limits),
                retryBudget: wanted.retryBudget,
                onOutage: { Console.error("note: \($0)") }
            )
        }
        // A database that is down is waited for (and said so), as the queue's is. The quotas
        // share one table: preparing one prepares all.
        try await wait.preparing("the shared quota", in: database, flag: "--quota", quiet: options.quiet) {
            try await quotas.first?.prepare()
        }
        let result = try await withThrowingTaskGroup(of: T?.self) { group in
            for quota in quotas {
                group.addTask {
                    try await quota.run()
                    return nil
                }
            }
            defer { group.cancelAll() }
            return try await body(quotas)
        }
        if !options.quiet {
            for quota in quotas {
                Console.error(
                    "shared quota '\(quota.configuration.name)' at \(database.url): \(quota.leases) leases (database round trips)"
                )
            }
        }
        return result
    }
}
