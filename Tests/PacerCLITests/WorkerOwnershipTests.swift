import Foundation
import PacerJobs
import PacerPostgres
import Testing

@testable import PacerCLI

/// Table tests of what a worker believes it holds (issue 20), on given instants: no clock is
/// read and nothing sleeps.
@Suite struct ChunkHoldsTests {
    static let start = ContinuousClock.now

    /// `seconds` after ``start``.
    func at(_ seconds: Double) -> ContinuousClock.Instant { Self.start + .seconds(seconds) }

    @Test func aChunkIsHeldWhileTheLastAnswerIsYoungerThanTheTrust() {
        var holds = ChunkHolds(trustFor: .seconds(5))
        #expect(holds.verdict(for: 1, at: at(0)) == .lost, "never claimed")
        #expect(holds.claimed(1, reaps: 0, sentAt: at(0)).isEmpty)
        #expect(holds.verdict(for: 1, at: at(4.9)) == .holds)
        // A frozen worker wakes past the trust: it must ask before it sends.
        #expect(holds.verdict(for: 1, at: at(20)) == .ask)
        // The answer says no reap happened: held again, from the answer's send time.
        #expect(holds.answered(reaps: 0, sentAt: at(20)).isEmpty)
        #expect(holds.verdict(for: 1, at: at(21)) == .holds)
        #expect(holds.verdict(for: 1, at: at(25)) == .ask)
    }

    @Test func aReapAfterTheClaimTakesEveryChunkClaimedBeforeIt() {
        var holds = ChunkHolds(trustFor: .seconds(5))
        _ = holds.claimed(1, reaps: 0, sentAt: at(0))
        _ = holds.claimed(2, reaps: 0, sentAt: at(1))
        // Reaped once while frozen; then a claim answered with the new count.
        #expect(holds.claimed(3, reaps: 1, sentAt: at(20)) == [1, 2])
        #expect(holds.verdict(for: 1, at: at(20.5)) == .lost)
        #expect(holds.verdict(for: 2, at: at(20.5)) == .lost)
        #expect(holds.verdict(for: 3, at: at(20.5)) == .holds)
        #expect(holds.held == [3])
        // The same count again changes nothing; a higher one takes chunk 3 as well.
        #expect(holds.answered(reaps: 1, sentAt: at(21)).isEmpty)
        #expect(holds.answered(reaps: 2, sentAt: at(40)) == [3])
        #expect(holds.held.isEmpty)
    }

    @Test func anAnswerWithoutACountConfirmsNothing() {
        var holds = ChunkHolds(trustFor: .seconds(5))
        _ = holds.claimed(1, reaps: 0, sentAt: at(0))
        #expect(holds.answered(reaps: nil, sentAt: at(10)).isEmpty)
        #expect(holds.verdict(for: 1, at: at(10)) == .ask)
    }

    /// Answers can come back out of order: a claim that saw an older count than one already
    /// answered was reaped with the rest.
    @Test func aClaimThatSawAnOlderCountIsLost() {
        var holds = ChunkHolds(trustFor: .seconds(5))
        _ = holds.answered(reaps: 2, sentAt: at(3))
        #expect(holds.claimed(7, reaps: 1, sentAt: at(2)) == [7])
        #expect(holds.verdict(for: 7, at: at(3)) == .lost)
        // An older answer does not move the trust back.
        _ = holds.answered(reaps: 2, sentAt: at(1))
        #expect(holds.confirmedAt == at(3))
    }

    @Test func releasedChunksAreNoLongerHeld() {
        var holds = ChunkHolds(trustFor: .seconds(5))
        _ = holds.claimed(1, reaps: 0, sentAt: at(0))
        _ = holds.claimed(2, reaps: 0, sentAt: at(0))
        holds.released([1])
        #expect(holds.held == [2])
    }
}

/// The ledger forgets what the database took back: the results waiting for a lost chunk and
/// its items are not the worker's to store or send.
@Suite struct ChunkLedgerOwnershipTests {
    static let start = ContinuousClock.now

    func chunk(_ number: Int64, seqs: ClosedRange<Int64>) -> ClaimedChunk {
        ClaimedChunk(
            chunk: number,
            items: seqs.map {
                QueueItem(seq: $0, chunk: number, customID: "req-\($0)", url: "/v1/chat/completions", body: "{}")
            }
        )
    }

    @Test func aReapForgetsTheChunksResultsAndLaterOnes() {
        let ledger = ChunkLedger(trustFor: .seconds(5), generation: 1)
        ledger.opened(chunk(0, seqs: 0...2), reaps: 0, sentAt: Self.start)
        ledger.opened(chunk(1, seqs: 3...5), reaps: 0, sentAt: Self.start)
        ledger.add(seq: 0, success: true, line: "a", attempts: 1)
        #expect(ledger.unsaved == 1)
        #expect(ledger.answered(reaps: 1, sentAt: Self.start + .seconds(20)) == 2)
        #expect(ledger.unsaved == 0 && ledger.openChunks.isEmpty)
        // An item in flight when the chunk was lost finishes: its result is dropped.
        ledger.add(seq: 1, success: true, line: "b", attempts: 1)
        #expect(ledger.unsaved == 0)
        #expect(ledger.losses.chunks == 2 && ledger.losses.results == 2)
        #expect(ledger.verdict(for: 0, at: Self.start + .seconds(21)) == .lost)
    }

    @Test func aStoreRefusedForAChunkForgetsIt() throws {
        let ledger = ChunkLedger(trustFor: .seconds(5), generation: 1)
        ledger.opened(chunk(0, seqs: 0...1), reaps: 0, sentAt: Self.start)
        ledger.opened(chunk(1, seqs: 2...3), reaps: 0, sentAt: Self.start)
        for seq in [0, 2] as [Int64] { ledger.add(seq: seq, success: true, line: "x", attempts: 1) }
        let flush = try #require(ledger.takeFlush())
        // The database holds chunk 1 for this worker, not chunk 0.
        let outcome = StoreOutcome(inserted: 1, finished: 0, held: [1], reaps: 0, batchFound: true)
        ledger.stored(flush, outcome: outcome, sentAt: Self.start + .seconds(1))
        #expect(ledger.stored == 1 && ledger.alreadyStored == 0)
        #expect(ledger.openChunks == [1])
        #expect(ledger.losses.results == 1)
        #expect(ledger.verdict(for: 0, at: Self.start + .seconds(2)) == .lost)
        #expect(ledger.verdict(for: 1, at: Self.start + .seconds(2)) == .holds)
    }

    @Test func anotherGenerationReplacesTheBatch() throws {
        let ledger = ChunkLedger(trustFor: .seconds(5))
        #expect(ledger.check(generation: nil) && ledger.generation == nil)
        #expect(ledger.check(generation: 4) && ledger.generation == 4, "the first one seen is adopted")
        ledger.opened(chunk(0, seqs: 0...1), reaps: 0, sentAt: Self.start)
        ledger.add(seq: 0, success: true, line: "x", attempts: 1)
        #expect(ledger.check(generation: 4) && !ledger.isReplaced)
        #expect(!ledger.check(generation: 9))
        #expect(ledger.isReplaced && ledger.unsaved == 0 && ledger.openChunks.isEmpty)
        #expect(ledger.losses == (0, 0, 0), "a replaced batch is not a reap")
        // Dropped without a new push: replaced as well.
        let dropped = ChunkLedger(trustFor: .seconds(5), generation: 4)
        #expect(!dropped.check(generation: nil) && dropped.isReplaced)
    }

    @Test func aStoreThatFindsNoBatchReplacesIt() throws {
        let ledger = ChunkLedger(trustFor: .seconds(5), generation: 1)
        ledger.opened(chunk(0, seqs: 0...1), reaps: 0, sentAt: Self.start)
        ledger.add(seq: 0, success: true, line: "x", attempts: 1)
        let flush = try #require(ledger.takeFlush())
        let outcome = StoreOutcome(inserted: 0, finished: 0, held: [], reaps: nil, batchFound: false)
        ledger.stored(flush, outcome: outcome, sentAt: Self.start)
        #expect(ledger.isReplaced && ledger.stored == 0 && ledger.unsaved == 0)
    }
}

/// When a worker that found nothing to claim may end (issue 20: survivors quit an unfinished
/// batch).
@Suite struct DrainRuleTests {
    static let rule = DrainRule(follow: false, poll: .seconds(10), recheck: .seconds(5))

    @Test(arguments: [
        (BatchOutlook(generation: 1, pending: 0, heldByOthers: 0), false, DrainRule.Step.end),
        (BatchOutlook(generation: 1, pending: 0, heldByOthers: 0), true, .wait(.seconds(10))),
        (BatchOutlook(generation: 1, pending: 0, heldByOthers: 3), false, .wait(.seconds(5))),
        (BatchOutlook(generation: 1, pending: 0, heldByOthers: 3), true, .wait(.seconds(5))),
        (BatchOutlook(generation: 1, pending: 2, heldByOthers: 0), false, .claimAgain),
        (BatchOutlook(generation: 1, pending: 2, heldByOthers: 1), true, .claimAgain),
        (BatchOutlook(generation: nil, pending: 0, heldByOthers: 0), true, .wait(.seconds(10))),
    ])
    func step(outlook: BatchOutlook, follow: Bool, expected: DrainRule.Step) {
        var rule = Self.rule
        rule.follow = follow
        #expect(rule.step(after: outlook) == expected)
    }

    @Test func aShortPollBoundsTheWaitForOthers() {
        let rule = DrainRule(follow: true, poll: .seconds(1), recheck: .seconds(5))
        #expect(rule.step(after: BatchOutlook(generation: 1, pending: 0, heldByOthers: 1)) == .wait(.seconds(1)))
    }
}

/// A worker's exit status and last words.
@Suite struct WorkerExitTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func aWaitLongerThanMaxWaitExitsOneSayingWhenToResume() {
        let exit = WorkerExit(interrupted: false, claimError: nil, resumeAfterSeconds: 3600)
        #expect(exit.status == 1)
        let text = exit.messages(givenBack: 5, now: Self.now).joined(separator: "\n")
        #expect(text.contains("asked to wait 3600 s"), "\(text)")
        #expect(text.contains("2027-01-15T09:00:00Z"), "\(text)")
        #expect(text.contains("5 unfinished chunks went back to the batch"), "\(text)")
        #expect(text.contains("run pacer worker again after that time"), "\(text)")
    }

    @Test func statusesInOrderOfPrecedence() {
        let replaced = QueueError.batchReplaced("b")
        #expect(WorkerExit(interrupted: false, claimError: nil, resumeAfterSeconds: nil).status == 0)
        #expect(WorkerExit(interrupted: false, claimError: replaced, resumeAfterSeconds: 60).status == 2)
        #expect(WorkerExit(interrupted: true, claimError: replaced, resumeAfterSeconds: 60).status == 130)
        let words = WorkerExit(interrupted: false, claimError: replaced, resumeAfterSeconds: nil)
            .messages(givenBack: 0, now: Self.now)
        #expect(words == ["error: \(replaced.description)"])
        #expect(replaced.description.contains("batch 'b' was dropped"))
    }
}
