/// The life of one batch that `pacer serve` runs, in OpenAI's statuses: the pure core of
/// `ServedBatch`, which carries out its actions (check the input, run
/// it through the library's file run, stop it, write the output and error files) and feeds
/// back their ends.
///
/// ```
/// validating ─ok→ in_progress ─run ended→ finalizing ─files written→ completed
///     │                │ cancel                                    (expired when the
///     │ errors         ↓                                            window passed)
///     ↓            cancelling ─run ended, files written→ cancelled
///   failed
/// ```
///
/// A cancel keeps what finished: the run stops admitting, its requests in flight end, and
/// the output file holds every finished line. A window that passes does the same and ends
/// `expired`. A server started again on the same data folder feeds ``Event/restarted`` to
/// every batch it finds, and each goes on from where it was.
package struct ServedBatchStateMachine: Sendable, Hashable, Codable {
    /// OpenAI's batch statuses.
    package enum Status: String, Sendable, Hashable, Codable, CodingKeyRepresentable, CaseIterable {
        case validating
        case failed
        case inProgress = "in_progress"
        case finalizing
        case completed
        case expired
        case cancelling
        case cancelled

        /// Whether the batch is over: nothing changes it any more.
        package var isFinal: Bool {
            switch self {
            case .failed, .completed, .expired, .cancelled: true
            case .validating, .inProgress, .finalizing, .cancelling: false
            }
        }
    }

    /// What happened.
    package enum Event: Sendable, Hashable {
        /// The input was checked: `errors` is empty when every line is good.
        case validated(errors: Int)
        /// A client asked to cancel (`POST /v1/batches/{id}/cancel`).
        case cancelRequested
        /// The completion window passed.
        case windowPassed
        /// The run ended: every item has its line, or it stopped as it was told.
        case runEnded
        /// The output and error files are in place.
        case filesWritten
        /// The server started again and found the batch in its data folder.
        case restarted
    }

    /// What the shell does next.
    package enum Action: Sendable, Hashable {
        /// Nothing.
        case none
        /// Check the input file against the batch's endpoint.
        case validate
        /// Run the batch (resuming what its output already holds).
        case run
        /// Stop the run: admit nothing more, let the requests in flight end, keep what finished.
        case stopRun
        /// Write (or finish) the output and error files.
        case writeFiles
        /// Refuse the request that caused the event (a cancel of a batch that is over): the
        /// message is for the client.
        case refuse(String)
    }

    /// Where the batch is.
    package private(set) var status: Status = .validating
    /// When each status was entered, in seconds since 1970 (OpenAI's `in_progress_at`,
    /// `finalizing_at`…).
    package private(set) var enteredAt: [Status: Int]
    /// Whether the window passed while the batch ran: it then ends `expired`, not `completed`.
    package private(set) var windowPassed = false

    /// A batch created at `now`, validating.
    package init(createdAt now: Int) {
        enteredAt = [.validating: now]
    }

    /// Takes an event at `now`; returns what to do.
    package mutating func handle(_ event: Event, now: Int) -> Action {
        switch (status, event) {
        case (.validating, .validated(let errors)):
            if errors > 0 {
                enter(.failed, now)
                return .none
            }
            if windowPassed {
                enter(.expired, now)
                return .none
            }
            enter(.inProgress, now)
            return .run
        case (.validating, .cancelRequested):
            // Nothing was sent: cancelled at once.
            enter(.cancelling, now)
            enter(.cancelled, now)
            return .none
        case (.validating, .windowPassed):
            windowPassed = true
            return .none
        case (.validating, .restarted):
            return .validate
        case (.inProgress, .cancelRequested):
            enter(.cancelling, now)
            return .stopRun
        case (.inProgress, .windowPassed):
            windowPassed = true
            return .stopRun
        case (.inProgress, .runEnded):
            enter(.finalizing, now)
            return .writeFiles
        case (.inProgress, .restarted):
            return windowPassed ? .writeFiles : .run
        case (.finalizing, .filesWritten):
            enter(windowPassed ? .expired : .completed, now)
            return .none
        case (.finalizing, .restarted), (.cancelling, .restarted), (.cancelling, .runEnded):
            return .writeFiles
        case (.cancelling, .filesWritten):
            enter(.cancelled, now)
            return .none
        case (.finalizing, .cancelRequested):
            return .refuse("Cannot cancel a batch that is finalizing: its output is being written.")
        case (.cancelling, .cancelRequested):
            return .none
        case (let status, .cancelRequested) where status.isFinal:
            return .refuse("Cannot cancel a batch with status '\(status.rawValue)'.")
        default:
            // Late news of a run that is already accounted for (a window passing after the
            // run ended, a second "run ended"): nothing changes.
            return .none
        }
    }

    private mutating func enter(_ next: Status, _ now: Int) {
        status = next
        enteredAt[next] = now
    }
}
