import Testing

@testable import PacerCore

/// Table tests of how a run stops: each row is the events fed from a fresh run, and the
/// actions the last one asks for, the phase it leaves and the cause kept.
@Suite struct RunStopStateMachineTests {
    struct Row: Sendable, CustomTestStringConvertible {
        var name: String
        var events: [RunStopStateMachine.Event]
        var actions: RunStopStateMachine.Actions
        var phase: RunStopStateMachine.Phase
        var cause: RunStopStateMachine.Cause?
        var testDescription: String { name }
    }

    static let rows: [Row] = [
        // A signal while admitting (reading the input, filling a pack, waiting for a window
        // or a claim): admission stops, and every such wait ends with it; the grace starts.
        Row(
            name: "signal during admission",
            events: [.interrupt],
            actions: [.stopAdmitting, .startGrace],
            phase: .draining,
            cause: .interrupted
        ),
        Row(
            name: "the grace ends",
            events: [.interrupt, .graceEnded],
            actions: .cancelInFlight,
            phase: .cancelling,
            cause: .interrupted
        ),
        Row(
            name: "a second signal cancels before the grace ends",
            events: [.interrupt, .interrupt],
            actions: .cancelInFlight,
            phase: .cancelling,
            cause: .interrupted
        ),
        Row(
            name: "the grace ending after a second signal does nothing more",
            events: [.interrupt, .interrupt, .graceEnded],
            actions: [],
            phase: .cancelling,
            cause: .interrupted
        ),
        Row(
            name: "a third signal stops waiting to store",
            events: [.interrupt, .interrupt, .interrupt],
            actions: .abandonStoring,
            phase: .cancelling,
            cause: .interrupted
        ),
        Row(
            name: "a write error cancels at once",
            events: [.writeFailed("disk full")],
            actions: [.stopAdmitting, .cancelInFlight],
            phase: .cancelling,
            cause: .writeFailed("disk full")
        ),
        Row(
            name: "a write error while draining keeps the signal as the cause",
            events: [.interrupt, .writeFailed("disk full")],
            actions: [.stopAdmitting, .cancelInFlight],
            phase: .cancelling,
            cause: .interrupted
        ),
        Row(
            name: "a database outage is waited out",
            events: [.databaseUnreachable],
            actions: [],
            phase: .running,
            cause: nil
        ),
        Row(
            name: "a database outage while draining is waited out",
            events: [.interrupt, .databaseUnreachable],
            actions: [],
            phase: .draining,
            cause: .interrupted
        ),
        Row(
            name: "a database outage after three signals is given up on",
            events: [.interrupt, .interrupt, .interrupt, .databaseUnreachable],
            actions: .abandonStoring,
            phase: .cancelling,
            cause: .interrupted
        ),
        Row(
            name: "a cancel from an API drains as a first signal does",
            events: [.cancel],
            actions: [.stopAdmitting, .startGrace],
            phase: .draining,
            cause: .cancelled
        ),
        Row(
            name: "a second cancel changes nothing",
            events: [.cancel, .cancel],
            actions: [],
            phase: .draining,
            cause: .cancelled
        ),
        Row(
            name: "a signal after a cancel cancels what is in flight",
            events: [.cancel, .interrupt],
            actions: .cancelInFlight,
            phase: .cancelling,
            cause: .cancelled
        ),
        Row(
            name: "withdrawn work is cancelled and not stored",
            events: [.withdrawn("the batch was dropped")],
            actions: [.stopAdmitting, .cancelInFlight, .abandonStoring],
            phase: .cancelling,
            cause: .withdrawn("the batch was dropped")
        ),
        Row(
            name: "the work ends",
            events: [.workEnded],
            actions: .endHelpers,
            phase: .finished,
            cause: nil
        ),
        Row(
            name: "the work ends while draining",
            events: [.interrupt, .workEnded],
            actions: .endHelpers,
            phase: .finished,
            cause: .interrupted
        ),
        Row(
            name: "a signal after the work ended stops nothing",
            events: [.workEnded, .interrupt],
            actions: [],
            phase: .finished,
            cause: nil
        ),
        Row(
            name: "the grace ending after the work ended does nothing",
            events: [.interrupt, .workEnded, .graceEnded],
            actions: [],
            phase: .finished,
            cause: .interrupted
        ),
    ]

    @Test(arguments: rows)
    func eachEventFromEachPhase(row: Row) {
        var stop = RunStopStateMachine()
        var last: RunStopStateMachine.Actions = []
        for event in row.events { last = stop.handle(event) }
        #expect(last == row.actions)
        #expect(stop.phase == row.phase)
        #expect(stop.cause == row.cause)
        #expect(stop.stoppedEarly == (row.cause != nil))
    }
}
