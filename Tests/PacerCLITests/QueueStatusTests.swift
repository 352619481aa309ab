import Foundation
import Testing

@testable import PacerCLI
@testable import PacerPostgres

/// `pacer queue status`'s report: an ETA only while a worker runs, and what to do when none
/// does (a new user stopped the only worker with Ctrl-C and was shown an ETA of 14 s).
@Suite struct QueueStatusTests {
    func status(workers: [String]) -> QueueStatus {
        QueueStatus(
            items: 300,
            succeeded: 81,
            failed: 0,
            inFlight: 0,
            lastMinute: 81,
            lastMinuteSeconds: 5,
            workers: workers.map { state in
                QueueStatus.Worker(
                    id: UUID(),
                    host: "machine-a",
                    pid: 41,
                    state: state,
                    upSeconds: 5,
                    quietSeconds: 0.5,
                    succeeded: 81,
                    failed: 0,
                    chunks: state == "running" ? 1 : 0
                )
            }
        )
    }

    @Test func aRunningWorkerGetsAnETA() {
        let lines = QueueStatusCommand.lines(status(workers: ["running"]), batch: "b1")
        #expect(lines[1].hasSuffix("· ETA 14s"), "\(lines)")
        #expect(!lines.contains { $0.contains("no worker is running") })
    }

    @Test func withNoWorkerRunningThereIsNoETAButAHint() {
        let lines = QueueStatusCommand.lines(status(workers: ["stopped"]), batch: "b1")
        #expect(!lines[1].contains("ETA"), "\(lines)")
        #expect(lines.last == "  no worker is running: start one with pacer worker --db URL --batch b1")
    }
}
