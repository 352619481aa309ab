import PacerPostgres
import Testing

/// A process's share of a quota shared by many: slots at their times, missed slots dropped,
/// one fetch at a time, leases sized by what was used, never booked far ahead.
@Suite struct PostgresQuotaStateMachineTests {
    func sendTime(_ decision: PostgresQuotaStateMachine.Decision) -> Double? {
        if case .send(let at) = decision { return at }
        return nil
    }

    @Test func theFirstCallerFetchesOneSlotAndOthersWaitForIt() {
        var lease = PostgresQuotaStateMachine()
        #expect(lease.take(tokens: 100, now: 0) == .fetch(requests: 1, tokens: 100))
        #expect(lease.take(tokens: 100, now: 0) == .wait(until: nil))
        lease.apply(.init(requests: 1, tokens: 100, start: 0.5, spacing: 0), now: 0.01)
        #expect(lease.take(tokens: 100, now: 0.02) == .send(at: 0.5))
    }

    @Test func slotsGoAtTheirTimesAndAUsedUpLeaseDoublesTheNext() {
        var lease = PostgresQuotaStateMachine(maxRequests: 10)
        _ = lease.take(tokens: 0, now: 0)
        lease.apply(.init(requests: 1, tokens: .max, start: 0, spacing: 0.1), now: 0)
        #expect(lease.take(tokens: 0, now: 0) == .send(at: 0))
        #expect(lease.take(tokens: 0, now: 0) == .fetch(requests: 2, tokens: 0))
        lease.apply(.init(requests: 2, tokens: .max, start: 0.1, spacing: 0.1), now: 0)
        #expect(lease.take(tokens: 0, now: 0) == .send(at: 0.1))
        #expect(lease.take(tokens: 0, now: 0) == .send(at: 0.2))
        #expect(lease.take(tokens: 0, now: 0) == .fetch(requests: 4, tokens: 0))
        lease.apply(.init(requests: 4, tokens: .max, start: 0.3, spacing: 0.1), now: 0)
        for _ in 0..<4 { _ = lease.take(tokens: 0, now: 0) }
        // 8 wanted, but a lease is at most 10 slots (a second at the limit).
        #expect(lease.take(tokens: 0, now: 0) == .fetch(requests: 8, tokens: 0))
        lease.apply(.init(requests: 8, tokens: .max, start: 0.7, spacing: 0.1), now: 0)
        for _ in 0..<8 { _ = lease.take(tokens: 0, now: 0) }
        // The last slot (1.4) is more than a lease (1 s) ahead: no booking further out yet.
        guard case .wait(let until?) = lease.take(tokens: 0, now: 0.1) else {
            Issue.record("expected a wait while booked more than a lease ahead")
            return
        }
        #expect(until ≈ 0.4)
        if case .fetch(let requests, _) = lease.take(tokens: 0, now: 0.45) {
            #expect(requests == 10)
        } else {
            Issue.record("expected a fetch once the booking is less than a lease ahead")
        }
    }

    @Test func slotsWhoseTimePassedAreDroppedNotSentInABurst() {
        var lease = PostgresQuotaStateMachine()
        _ = lease.take(tokens: 0, now: 0)
        lease.apply(.init(requests: 10, tokens: .max, start: 0, spacing: 0.1), now: 0)
        // At 0.65 the slots of 0 … 0.5 passed more than a slot ago and are gone; the one of
        // 0.6 goes now, the next ones at their times.
        #expect(sendTime(lease.take(tokens: 0, now: 0.65)) ≈ 0.6)
        #expect(sendTime(lease.take(tokens: 0, now: 0.65)) ≈ 0.7)
        #expect(sendTime(lease.take(tokens: 0, now: 0.65)) ≈ 0.8)
    }

    @Test func aPartlyUsedLeaseAsksForWhatWasUsedPlusOne() {
        var lease = PostgresQuotaStateMachine()
        _ = lease.take(tokens: 0, now: 0)
        lease.apply(.init(requests: 8, tokens: .max, start: 0, spacing: 0.1), now: 0)
        #expect(lease.take(tokens: 0, now: 0) == .send(at: 0))
        #expect(lease.take(tokens: 0, now: 0.1) == .send(at: 0.1))
        // Much later: the other six slots passed unused.
        #expect(lease.take(tokens: 0, now: 5) == .fetch(requests: 3, tokens: 0))
    }

    @Test func tokensRunOutBeforeSlots() {
        var lease = PostgresQuotaStateMachine()
        _ = lease.take(tokens: 400, now: 0)
        lease.apply(.init(requests: 5, tokens: 1000, start: 0, spacing: 0.1), now: 0)
        #expect(lease.take(tokens: 400, now: 0) == .send(at: 0))
        #expect(lease.take(tokens: 400, now: 0) == .send(at: 0.1))
        // 200 tokens left: a request of 400 needs a new lease, booked for at least 400 a slot.
        #expect(lease.take(tokens: 400, now: 0.15) == .fetch(requests: 3, tokens: 1200))
    }

    /// Issue 20: what a request booked and did not use goes back to the shared store at once
    /// (not into this lease, whose slots may all be taken), as do the tokens of a lease given
    /// up; a failed settlement keeps them for the next.
    @Test func unusedTokensGoBackToTheStoreAtOnce() {
        var lease = PostgresQuotaStateMachine()
        _ = lease.take(tokens: 400, now: 0)
        lease.apply(.init(requests: 2, tokens: 800, start: 0, spacing: 0.1), now: 0)
        #expect(lease.take(tokens: 400, now: 0) == .send(at: 0))
        #expect(lease.settlement() == 0, "nothing unused yet")
        // Used 100 of 400: 300 back.
        lease.refund(tokens: 300)
        #expect(lease.settlement() == 300)
        #expect(lease.settlement() == 0)
        #expect(lease.take(tokens: 300, now: 0) == .send(at: 0.1))
        guard case .fetch = lease.take(tokens: 400, now: 0.2) else {
            Issue.record("a used-up lease asks for the next")
            return
        }
        // The lease is given up with 100 tokens its second request did not book.
        let settled = lease.settlement()
        #expect(settled == 100)
        lease.unsettle(settled)
        lease.fetchFailed(retryAt: 1)
        #expect(lease.settlement() == 100, "a failed settlement carries them to the next")
        #expect(lease.settlement() == 0)
    }

    /// Another process's settlement heard while a lease is being asked for: the answer (which
    /// may predate it) does not hold this process until its "ask again" time.
    @Test func aSettlementHeardDuringAFetchIsNotLostToItsAnswer() {
        var lease = PostgresQuotaStateMachine()
        _ = lease.take(tokens: 100, now: 0)
        lease.askSoon()
        lease.apply(.init(requests: 0, tokens: 0, start: 0, spacing: 0, retryAt: 2), now: 0)
        #expect(lease.take(tokens: 100, now: 0.01) == .fetch(requests: 1, tokens: 100))
        // Not heard: the answer's time holds.
        lease.apply(.init(requests: 0, tokens: 0, start: 0, spacing: 0, retryAt: 2), now: 0.02)
        #expect(lease.take(tokens: 100, now: 0.03) == .wait(until: 2))
    }

    @Test func withoutATokenLimitNothingIsSettled() {
        var lease = PostgresQuotaStateMachine()
        _ = lease.take(tokens: 400, now: 0)
        lease.apply(.init(requests: 1, tokens: .max, start: 0, spacing: 0.1), now: 0)
        #expect(lease.take(tokens: 400, now: 0) == .send(at: 0))
        lease.refund(tokens: 300)
        _ = lease.take(tokens: 400, now: 1)
        #expect(lease.settlement() == 0)
    }

    @Test func nothingGrantedWaitsUntilTheStoreSaysAndAFailedFetchUntilItsRetry() {
        var lease = PostgresQuotaStateMachine()
        _ = lease.take(tokens: 0, now: 0)
        lease.apply(.init(requests: 0, tokens: 0, start: 0, spacing: 0, retryAt: 2), now: 0)
        #expect(lease.take(tokens: 0, now: 1) == .wait(until: 2))
        lease.askSoon()
        #expect(lease.take(tokens: 0, now: 1) == .fetch(requests: 1, tokens: 0))
        lease.fetchFailed(retryAt: 3)
        #expect(lease.take(tokens: 0, now: 1) == .wait(until: 3))
        #expect(lease.take(tokens: 0, now: 3) == .fetch(requests: 1, tokens: 0))
    }
}

infix operator ≈ : ComparisonPrecedence

/// Equal to a microsecond (slot times are sums of spacings).
private func ≈ (lhs: Double?, rhs: Double) -> Bool {
    guard let lhs else { return false }
    return abs(lhs - rhs) < 1e-6
}
