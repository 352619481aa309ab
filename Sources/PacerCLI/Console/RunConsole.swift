import PacerCore
import PacerJobs
import UnixSignals

/// What a command does around a library run: signals go to the run's handle, the progress
/// line is drawn, and the run's notes are printed.
enum RunConsole {
    /// Runs `body` while Ctrl-C and SIGTERM go to `handle` (the first drains, the next
    /// cancels, see ``RunStopStateMachine``) and `progress` draws `counters` (unless it is `nil`).
    static func watching<T: Sendable>(
        _ handle: RunHandle,
        progress: ProgressReporter?,
        counters: BatchProgress,
        _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                for await _ in await UnixSignalsSequence(trapping: .sigint, .sigterm) { handle.interrupt() }
                return nil
            }
            if let progress {
                group.addTask {
                    await progress.run(counters)
                    return nil
                }
            }
            defer { group.cancelAll() }
            return try await body()
        }
    }

    /// Prints each database outage once, when it starts and when it ends (even with `quiet`:
    /// the command is waiting, not stuck).
    static func outages(quiet: Bool) -> OutageReporter {
        OutageReporter(notes: { print($0, kind: .worker, quiet: quiet, verbose: false) })
    }

    /// Prints `note` as a run of `kind` says it; with `quiet`, only what a person must know.
    static func print(_ note: RunNote, kind: Kind, quiet: Bool, verbose: Bool) {
        guard let line = text(note, kind: kind, quiet: quiet, verbose: verbose) else { return }
        Console.error(line)
    }

    /// Which run speaks: a file run's stop keeps finished lines; a worker's gives chunks back.
    enum Kind {
        case file
        case worker
    }

    /// What is printed for `note`; `nil` for nothing.
    static func text(_ note: RunNote, kind: Kind, quiet: Bool, verbose: Bool) -> String? {
        let lead = quiet ? "" : "\n"
        switch note {
        case .stopping(let grace):
            let seconds = SummaryText.format(grace.pacerSeconds, digits: 0)
            switch kind {
            case .file:
                return "\nstopping: no new requests; waiting up to \(seconds) s for those in flight (Ctrl-C again "
                    + "to stop now). Finished items are kept; a rerun does the rest."
            case .worker:
                return "\nstopping: claiming no more work; waiting up to \(seconds) s for requests in flight "
                    + "(Ctrl-C again to stop now). Their results are stored, and the chunks not done go back to "
                    + "the batch."
            }
        case .cancelling:
            return kind == .file
                ? "stopping now: requests in flight are cancelled; a rerun sends them again."
                : "stopping now: requests in flight are cancelled; their chunks go back to the batch "
                    + "(Ctrl-C again to stop waiting for the database)."
        case .abandonedStoring:
            return "stopping without storing: results not stored are lost; their chunks go back to the batch "
                + "when the reaper finds this worker gone."
        case .compacted(let file, let dropped):
            return verbose ? "note: \(file): dropped \(dropped) failure lines that a retry superseded" : nil
        case .compactionFailed(let message):
            return "warning: \(message)"
        case .registered(let host, let pid, let batch, let follow):
            return quiet
                ? nil
                : "worker \(host) pid \(pid) on batch '\(batch)'" + (follow ? " (following: waits for more work)" : "")
        case .reopened(let items, let chunks):
            return quiet ? nil : "--retry-failed: \(items) failed items (in \(chunks) chunks) are claimable again"
        case .databaseOutage(let description):
            // Said even with --quiet: the worker is waiting, not stuck.
            return lead + "pacer: " + description
        case .heartbeatFailed(let message):
            return "warning: heartbeat: \(message)"
        case .reaped(let workers, let chunks, let reapAfter):
            guard !quiet else { return nil }
            let seconds = SummaryText.format(reapAfter.pacerSeconds, digits: 0)
            return "\npacer: reaper: \(workers == 1 ? "1 worker" : "\(workers) workers") went quiet (no heartbeat "
                + "for \(seconds) s) or stopped without giving back their work; returned \(chunks) chunks to the batch"
        case .lostChunks(let lost, let reapAfter):
            // Said even with --quiet: the worker was not doing what it seemed to.
            let seconds = SummaryText.format(reapAfter.pacerSeconds, digits: 0)
            return "\npacer: this worker was silent for more than --reap-after (\(seconds) s) and the reaper gave "
                + "\(lost == 1 ? "its chunk" : "its \(lost) chunks") back to the batch; it drops their items not "
                + "sent yet and goes on with new work"
        }
    }
}
