import ArgumentParser
import Foundation
import PacerJobs
import PacerPostgres

/// `pacer queue status`: a batch's progress and its workers.
struct QueueStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show a batch's progress (done, failed, in flight, pending, rate, ETA) and its workers."
    )

    @OptionGroup var database: DatabaseOptions

    @OptionGroup var wait: DatabaseWaitOption

    func run() async throws {
        let url = try database.databaseURL(environment: Environment.current)
        let batch = database.batch
        let outages = RunConsole.outages(quiet: false)
        let status = try await QueueDatabase.withDatabase(url) { database in
            try await DatabaseErrors.readable(url) {
                let queue = BatchQueue(database: database, batch: batch)
                return try await wait.reaching(url, onOutage: outages.report) { onOutage in
                    try await database.retrying("read the batch's status", onOutage: onOutage) {
                        try await queue.status()
                    }
                }
            }
        }
        guard let status else {
            throw InputError(
                file: url.description,
                message: "no batch '\(batch)' here; push one first: pacer queue push FILE --db URL --batch \(batch)"
            )
        }
        for line in Self.lines(status, batch: batch) { print(line) }
    }

    /// The report, one string per line.
    static func lines(_ status: QueueStatus, batch: String) -> [String] {
        var lines = [
            "batch '\(batch)': \(status.items) items",
            "  done \(status.done) (\(status.succeeded) ok, \(status.failed) failed) · in flight \(status.inFlight) · "
                + "pending \(status.pending) · \(SummaryText.format(status.perSecond, digits: 1))/s"
                + (status.etaSeconds.map { " · ETA " + ProgressState.duration($0) } ?? ""),
        ]
        let running = status.workers.filter { $0.state == "running" }
        let lost = status.workers.filter { $0.state == "lost" }
        let stopped = status.workers.count - running.count - lost.count
        lines.append(
            "  workers: \(running.count) running"
                + (lost.isEmpty ? "" : ", \(lost.count) lost (went quiet; chunks returned)")
                + (stopped > 0 ? ", \(stopped) stopped" : "")
        )
        for worker in running + lost {
            lines.append(
                "    \(worker.host) pid \(worker.pid) · \(worker.state) · up \(ProgressState.duration(worker.upSeconds)) · "
                    + "last heartbeat \(SummaryText.format(worker.quietSeconds, digits: 1)) s ago · "
                    + "\(worker.succeeded) ok, \(worker.failed) failed · holds \(worker.chunks) chunks"
            )
        }
        if status.done == status.items {
            lines.append("  every item has a result: pacer queue export --db URL --batch \(batch) -o FILE")
        } else if running.isEmpty {
            lines.append("  no worker is running: start one with pacer worker --db URL --batch \(batch)")
        }
        return lines
    }
}
