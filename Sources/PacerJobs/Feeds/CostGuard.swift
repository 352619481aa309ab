import PacerCore
import PacerOpenAI
import Synchronization

/// `--max-cost`: admits a request only while what was spent, what is in flight (each at the
/// most it may cost) and the request's own most stay within the cap. So a run never spends
/// past the cap by more than its estimates fall short (a request without `max_tokens` is
/// reckoned at the default allowance), and when it stops, every request it sent has finished.
package final class CostGuard: Sendable {
    private struct State {
        var spent = 0.0
        var reserved = 0.0
        var refused = false
    }

    /// The cap, in USD.
    package let cap: Double
    private let state = Mutex(State())

    /// A guard for `cap` USD.
    package init(cap: Double) {
        self.cap = cap
    }

    /// Reserves `maxUSD` for a request about to be sent; `false` (and no reservation) when it
    /// would pass the cap: the run admits nothing more.
    package func admit(_ maxUSD: Double) -> Bool {
        state.withLock { state in
            guard !state.refused, state.spent + state.reserved + maxUSD <= cap else {
                state.refused = true
                return false
            }
            state.reserved += maxUSD
            return true
        }
    }

    /// A request finished: its reservation becomes what it cost (`nil`: nothing known to be
    /// charged, as for a failed request), plus its most for each failed attempt the server may
    /// have billed (`ItemError/mayHaveBeenBilled`): retries are paid for too.
    package func settle(reserved: Double, cost: Double?, billedFailures: Int = 0) {
        state.withLock { state in
            state.reserved -= reserved
            state.spent += (cost ?? 0) + Double(billedFailures) * reserved
        }
    }

    /// What the finished requests cost, in USD.
    package var spent: Double { state.withLock { $0.spent } }

    /// Whether the cap stopped admission.
    package var stoppedAdmission: Bool { state.withLock { $0.refused } }
}

/// The runner's units, ended early when the next one would pass the ``CostGuard``'s cap.
package struct CappedUnits<Base: AsyncSequence & Sendable, Unit: Sendable>: AsyncSequence, Sendable
where Base.Element == BatchItem<Unit> {
    package let base: Base
    package let costGuard: CostGuard
    /// The most a unit may cost, in USD (0 when its price is unknown).
    package let maxCost: @Sendable (Unit) -> Double

    /// `base`'s units, ended before the first that `costGuard` does not admit at `maxCost`.
    package init(base: Base, costGuard: CostGuard, maxCost: @escaping @Sendable (Unit) -> Double) {
        self.base = base
        self.costGuard = costGuard
        self.maxCost = maxCost
    }

    package func makeAsyncIterator() -> Iterator {
        Iterator(base: base.makeAsyncIterator(), costGuard: costGuard, maxCost: maxCost)
    }

    package struct Iterator: AsyncIteratorProtocol {
        package var base: Base.AsyncIterator
        package let costGuard: CostGuard
        package let maxCost: @Sendable (Unit) -> Double

        package mutating func next() async throws -> BatchItem<Unit>? {
            guard let unit = try await base.next() else { return nil }
            // The unit not admitted is not sent and not written: a rerun does it.
            return costGuard.admit(maxCost(unit.input)) ? unit : nil
        }
    }
}

extension ItemError {
    /// Whether the server may have charged for the failed attempt: it answered 2xx and the
    /// answer could not be used (cut off, malformed), or it did not answer in time (it may
    /// have generated all the same). A refusal (4xx, 5xx) is not charged.
    package var mayHaveBeenBilled: Bool {
        kind == .timeout || (200..<300).contains(status ?? 0)
    }
}

/// `--max-cost` for models the price table does not know: their requests cannot be counted
/// against the cap, which a person must hear of (once per model) rather than find on a bill.
package final class UnpricedModels: Sendable {
    private let warned = Mutex<Set<String>>([])
    private let warn: @Sendable (String) -> Void

    /// Reports each model without a price once, through `warn`.
    package init(warn: @escaping @Sendable (String) -> Void) {
        self.warn = warn
    }

    /// The most `estimate` may cost, or 0 (with a warning, once per model) when its price is
    /// unknown.
    package func maxUSD(_ estimate: CostEstimate) -> Double {
        if let most = estimate.maxUSD { return most }
        let first = warned.withLock { $0.insert(estimate.model).inserted }
        if first {
            warn(
                "warning: --max-cost: no price for model '\(estimate.model)', so its requests are not counted against "
                    + "the cap; give its price with --prices FILE or --price-in/--price-out"
            )
        }
        return 0
    }
}
