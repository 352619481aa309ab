import Testing

@testable import PacerServe

/// The batch's statuses, event by event: every path OpenAI documents, a cancel at each
/// stage, the window passing, a restart at each stage.
@Suite struct ServedBatchStateMachineTests {
    typealias Machine = ServedBatchStateMachine

    /// Feeds `events` (at times 1, 2, …) and returns each action and the statuses after each.
    func run(
        _ events: [Machine.Event],
        from machine: Machine = Machine(createdAt: 0)
    ) -> (
        Machine, [Machine.Action], [Machine.Status]
    ) {
        var machine = machine
        var actions: [Machine.Action] = []
        var statuses: [Machine.Status] = []
        for (index, event) in events.enumerated() {
            actions.append(machine.handle(event, now: index + 1))
            statuses.append(machine.status)
        }
        return (machine, actions, statuses)
    }

    @Test func aGoodBatchRunsFinalizesAndCompletes() {
        let (machine, actions, statuses) = run([.validated(errors: 0), .runEnded, .filesWritten])
        #expect(actions == [.run, .writeFiles, .none])
        #expect(statuses == [.inProgress, .finalizing, .completed])
        #expect(machine.enteredAt == [.validating: 0, .inProgress: 1, .finalizing: 2, .completed: 3])
    }

    @Test func aFileWithBadLinesFailsWithoutRunning() {
        let (machine, actions, statuses) = run([.validated(errors: 1), .cancelRequested])
        #expect(actions == [.none, .refuse("Cannot cancel a batch with status 'failed'.")])
        #expect(statuses == [.failed, .failed])
        #expect(machine.enteredAt[.failed] == 1)
    }

    @Test func aCancelWhileRunningStopsTheRunAndKeepsWhatFinished() {
        let (_, actions, statuses) = run([
            .validated(errors: 0), .cancelRequested, .cancelRequested, .runEnded, .filesWritten, .cancelRequested,
        ])
        #expect(
            actions == [
                .run, .stopRun, .none, .writeFiles, .none, .refuse("Cannot cancel a batch with status 'cancelled'."),
            ]
        )
        #expect(statuses == [.inProgress, .cancelling, .cancelling, .cancelling, .cancelled, .cancelled])
    }

    @Test func aCancelWhileValidatingEndsAtOnceAndOneWhileFinalizingIsRefused() {
        let (machine, actions, statuses) = run([.cancelRequested, .validated(errors: 0)])
        #expect(actions == [.none, .none])
        #expect(statuses == [.cancelled, .cancelled])
        #expect(machine.enteredAt[.cancelling] == 1 && machine.enteredAt[.cancelled] == 1)

        let (_, finalizing, _) = run([.validated(errors: 0), .runEnded, .cancelRequested])
        #expect(finalizing.last == .refuse("Cannot cancel a batch that is finalizing: its output is being written."))
    }

    @Test func theWindowPassingStopsTheRunAndEndsExpired() {
        let (machine, actions, statuses) = run([.validated(errors: 0), .windowPassed, .runEnded, .filesWritten])
        #expect(actions == [.run, .stopRun, .writeFiles, .none])
        #expect(statuses == [.inProgress, .inProgress, .finalizing, .expired])
        #expect(machine.enteredAt[.expired] == 4)
        // Passing while it validates: it never runs.
        let (_, early, earlyStatuses) = run([.windowPassed, .validated(errors: 0)])
        #expect(early == [.none, .none])
        #expect(earlyStatuses == [.validating, .expired])
    }

    @Test func aRestartGoesOnFromEachStatus() {
        let validating = Machine(createdAt: 0)
        #expect(run([.restarted], from: validating).1 == [.validate])
        let running = run([.validated(errors: 0)]).0
        #expect(run([.restarted], from: running).1 == [.run])
        let expiring = run([.validated(errors: 0), .windowPassed]).0
        #expect(run([.restarted], from: expiring).1 == [.writeFiles], "its window passed: finish, do not run on")
        let finalizing = run([.validated(errors: 0), .runEnded]).0
        #expect(run([.restarted], from: finalizing).1 == [.writeFiles])
        let cancelling = run([.validated(errors: 0), .cancelRequested]).0
        let (after, actions, statuses) = run([.restarted, .filesWritten], from: cancelling)
        #expect(actions == [.writeFiles, .none])
        #expect(statuses == [.cancelling, .cancelled])
        #expect(after.status.isFinal)
        let completed = run([.validated(errors: 0), .runEnded, .filesWritten]).0
        #expect(
            run([.restarted, .runEnded, .windowPassed], from: completed).2 == [.completed, .completed, .completed]
        )
    }
}
