import Foundation
import PacerPostgres

/// How a worker's run ends: its exit status and its last words, from what happened.
///
/// - 130: interrupted (Ctrl-C, SIGTERM); run a worker again to go on.
/// - 2: the worker could not claim work: the database refused, or the batch was dropped (or
///   dropped and pushed again) while it ran.
/// - 1: the server asked for a wait longer than `--max-wait`; the unfinished chunks went back,
///   and the message says when to run a worker again.
/// - 0: the batch is done, as far as any worker can do it.
struct WorkerExit: Sendable {
    /// Whether a signal stopped the worker.
    var interrupted: Bool
    /// Why claiming failed, if it did.
    var claimError: (any Error)?
    /// The wait the server asked for, when it was longer than `--max-wait`.
    var resumeAfterSeconds: Double?

    /// The exit status.
    var status: Int32 {
        if interrupted { return 130 }
        if claimError != nil { return 2 }
        if resumeAfterSeconds != nil { return 1 }
        return 0
    }

    /// What to tell the user at the end, given the chunks given back (`nil`: giving them back
    /// was abandoned) and the time now.
    func messages(givenBack: Int?, now: Date) -> [String] {
        var lines: [String] = []
        if let claimError {
            if let error = claimError as? QueueError {
                lines.append("error: \(error.description)")
            } else {
                lines.append("error: cannot claim work: \(DatabaseFailure.describe(claimError))")
            }
        }
        if let wait = resumeAfterSeconds {
            let resume = now.addingTimeInterval(wait)
            let back =
                givenBack.map { "\($0) unfinished \($0 == 1 ? "chunk" : "chunks") went back to the batch" }
                ?? "the unfinished chunks go back to the batch when the reaper finds this worker gone"
            lines.append(
                "stopped: the server asked to wait \(Int(wait.rounded(.up))) s (more than --max-wait); it expects "
                    + "capacity again at \(resume.formatted(.iso8601)). \(back); run pacer worker again after "
                    + "that time to go on with the batch."
            )
        }
        if interrupted {
            lines.append("interrupted: run pacer worker again (here or elsewhere) to go on with the batch.")
        }
        return lines
    }
}
