import ArgumentParser
import PacerJobs
import PacerPostgres

/// `pacer queue drop`: deletes a batch from the database once its results are exported.
struct QueueDropCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drop",
        abstract: "Delete a batch (its items, results and workers' rows) from the database.",
        discussion: """
            Export the results first (pacer queue export). A batch with a worker running (a heartbeat \
            in the last 30 s) is kept unless --force: that worker would go on paying for requests \
            whose results have nowhere to go.
            """
    )

    @OptionGroup var database: DatabaseOptions

    @OptionGroup var wait: DatabaseWaitOption

    @Flag(help: "Drop the batch even while workers run on it.")
    var force = false

    @Flag(name: .shortAndLong, help: "Print nothing on stderr but errors.")
    var quiet = false

    func run() async throws {
        let url = try database.databaseURL(environment: Environment.current)
        let batch = database.batch
        let outages = RunConsole.outages(quiet: quiet)
        let force = force
        let outcome = try await QueueDatabase.withDatabase(url) { database in
            try await DatabaseErrors.readable(url) {
                let queue = BatchQueue(database: database, batch: batch)
                return try await wait.reaching(url, onOutage: outages.report) { onOutage in
                    try await database.retrying("drop the batch", onOutage: onOutage) {
                        try await queue.drop(force: force)
                    }
                }
            }
        }
        if outcome.dropped {
            if !quiet {
                Console.error(
                    "dropped batch '\(batch)' from \(url): \(outcome.items) items and \(outcome.results) results"
                        + (outcome.runningWorkers > 0 ? " (\(outcome.runningWorkers) workers were still running)" : "")
                )
            }
            return
        }
        if outcome.runningWorkers > 0 {
            throw InputError(
                file: url.description,
                message:
                    "batch '\(batch)' has \(outcome.runningWorkers) workers running (a heartbeat in the last 30 s); "
                    + "stop them (Ctrl-C) or wait for them to finish, or drop it anyway with --force"
            )
        }
        throw InputError(file: url.description, message: "no batch '\(batch)' here; nothing to drop")
    }
}
