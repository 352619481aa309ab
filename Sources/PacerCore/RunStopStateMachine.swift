/// How a run stops, as a state machine without I/O: events in, actions out. The file run, the
/// worker and (next) the server all stop through it, so "signal → stop admitting → the
/// requests in flight finish within the grace → cancel → report" is written once.
///
/// ```
/// running ──interrupt, cancel──▶ draining ──graceEnded, interrupt──▶ cancelling
///    │                              │                                   │
///    │ writeFailed ─────────────────┴──────────────▶ cancelling         │ interrupt
///    │                                                                  ▼
///    └──────────── workEnded (from any) ──────────▶ finished      (abandon storing)
/// ```
///
/// - **Draining**: admit nothing more (every wait before a send, for a pack, a claim or a
///   window, ends), and let the requests in flight finish within the grace.
/// - **Cancelling**: cancel the requests still in flight; their items are not done, and a
///   rerun (or another worker) does them.
/// - A second interrupt while cancelling also stops waiting to store results (a database that
///   is down): what is not stored is left to a rerun, said in the report.
/// - A write that fails (a full disk) cancels at once: an answer that cannot be kept is not
///   worth waiting for (it is paid for either way; the rerun sends it again).
/// - An outage of the database a run stores into does not stop it: it waits, and only says so.
/// - Work withdrawn (a worker's batch dropped) cancels at once and stores nothing more.
///
/// The first cause of a stop is kept for the report (``cause``).
public struct RunStopStateMachine: Sendable, Hashable {
    /// Where the run is.
    public enum Phase: Sendable, Hashable {
        /// Admitting and sending.
        case running
        /// Admitting nothing; the requests in flight have the grace to finish.
        case draining
        /// The requests still in flight are being cancelled.
        case cancelling
        /// The work ended (its summary is in).
        case finished
    }

    /// Why a run stopped before its input was done.
    public enum Cause: Sendable, Hashable {
        /// A signal (Ctrl-C, SIGTERM).
        case interrupted
        /// A cancel asked through an API (a server's batch).
        case cancelled
        /// Results could not be written; the message says why.
        case writeFailed(String)
        /// The work is no longer the run's to do (its batch was dropped); the message says why.
        case withdrawn(String)
    }

    /// What the shell does in response to an event, in this order.
    public struct Actions: OptionSet, Sendable, Hashable {
        /// The raw bits.
        public let rawValue: Int
        /// Creates a set of actions.
        public init(rawValue: Int) { self.rawValue = rawValue }

        /// Admit nothing more: stop reading the input and claiming work, and end every wait
        /// before a send (``BatchControl/stopAdmitting()``).
        public static let stopAdmitting = Actions(rawValue: 1 << 0)
        /// Start the grace period; report ``Event/graceEnded`` when it is over.
        public static let startGrace = Actions(rawValue: 1 << 1)
        /// Cancel the requests in flight.
        public static let cancelInFlight = Actions(rawValue: 1 << 2)
        /// Stop waiting to store results (a database that cannot be reached).
        public static let abandonStoring = Actions(rawValue: 1 << 3)
        /// Stop the helpers (progress, heartbeat, signal watchers): the work is over.
        public static let endHelpers = Actions(rawValue: 1 << 4)
    }

    /// What happens to a run.
    public enum Event: Sendable, Hashable {
        /// A signal: the first drains, the next cancels, the one after stops storing.
        case interrupt
        /// A cancel asked through an API: drains, as a first interrupt does.
        case cancel
        /// The grace period is over.
        case graceEnded
        /// A result could not be written.
        case writeFailed(String)
        /// The work was taken away (the batch dropped): what is in flight is not wanted.
        case withdrawn(String)
        /// The database results are stored in cannot be reached: the run waits for it.
        case databaseUnreachable
        /// The work ended: every unit admitted has its result.
        case workEnded
    }

    /// Where the run is now.
    public private(set) var phase = Phase.running
    /// The first reason the run stopped early, if it did.
    public private(set) var cause: Cause?
    /// Interrupts received.
    public private(set) var interrupts = 0

    /// A run that is running.
    public init() {}

    /// Whether the run was stopped before its input was done.
    public var stoppedEarly: Bool { cause != nil }

    /// Takes an event; returns what to do.
    public mutating func handle(_ event: Event) -> Actions {
        switch (event, phase) {
        case (.workEnded, .finished):
            return []
        case (.workEnded, _):
            phase = .finished
            return .endHelpers
        case (_, .finished):
            // After the work ended, only the report is left: nothing to stop.
            if case .interrupt = event { interrupts += 1 }
            return []
        case (.interrupt, _):
            interrupts += 1
            cause = cause ?? .interrupted
            return escalate()
        case (.cancel, .running):
            cause = cause ?? .cancelled
            phase = .draining
            return [.stopAdmitting, .startGrace]
        case (.cancel, _):
            return []
        case (.graceEnded, .draining):
            phase = .cancelling
            return .cancelInFlight
        case (.graceEnded, _):
            return []
        case (.writeFailed(let message), .running), (.writeFailed(let message), .draining):
            cause = cause ?? .writeFailed(message)
            phase = .cancelling
            return [.stopAdmitting, .cancelInFlight]
        case (.writeFailed(let message), .cancelling):
            cause = cause ?? .writeFailed(message)
            return []
        case (.withdrawn(let message), .running), (.withdrawn(let message), .draining):
            cause = cause ?? .withdrawn(message)
            phase = .cancelling
            return [.stopAdmitting, .cancelInFlight, .abandonStoring]
        case (.withdrawn(let message), .cancelling):
            cause = cause ?? .withdrawn(message)
            return .abandonStoring
        case (.databaseUnreachable, _):
            // Waited out while the run goes on or drains; given up on only after a person
            // asked twice to stop.
            return phase == .cancelling && interrupts >= 3 ? .abandonStoring : []
        }
    }

    /// One step further: running drains, draining cancels, cancelling stops storing.
    private mutating func escalate() -> Actions {
        switch phase {
        case .running:
            phase = .draining
            return [.stopAdmitting, .startGrace]
        case .draining:
            phase = .cancelling
            return .cancelInFlight
        case .cancelling:
            return .abandonStoring
        case .finished:
            return []
        }
    }
}
