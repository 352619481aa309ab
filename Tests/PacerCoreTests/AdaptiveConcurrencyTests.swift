import Testing

@testable import PacerCore

/// `--concurrency auto`'s limit against a model of an LLM server with `slots` parallel slots:
/// up to `slots` requests run at the base latency per token, past it they queue, and the
/// latency grows with the in-flight count. (Issue 11.)
@Suite struct AdaptiveConcurrencyTests {
    struct Server {
        var slots: Int
        var noise: Double
        var random = SplitMix(seed: 1)

        mutating func latency(inFlight: Int) -> Double {
            max(1, Double(inFlight) / Double(slots)) * (1 + noise * random.unit())
        }
    }

    struct SplitMix {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func unit() -> Double {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Double((z ^ (z >> 31)) >> 11) / Double(1 << 53)
        }
    }

    /// Runs `steps` samples with the limit's own in-flight count; returns the limits used.
    func run(_ limit: inout AdaptiveConcurrency, server: inout Server, steps: Int) -> [Int] {
        (0..<steps).map { _ in
            let inFlight = limit.limit
            limit.record(.answered(secondsPerUnit: server.latency(inFlight: inFlight), inFlight: inFlight))
            return inFlight
        }
    }

    func mean(_ values: ArraySlice<Int>) -> Double { Double(values.reduce(0, +)) / Double(values.count) }

    @Test(arguments: [(1, 0.1), (8, 0.1), (8, 0.5), (32, 0.1)])
    func settlesJustAboveTheServersSlots(slots: Int, noise: Double) {
        var limit = AdaptiveConcurrency()
        var server = Server(slots: slots, noise: noise)
        let used = run(&limit, server: &server, steps: 3000)
        let settled = mean(used[300...])
        // At least the slots (full throughput), at most 1.5 × them (or 2 for one slot).
        #expect(settled >= Double(slots) && settled <= max(2, 1.5 * Double(slots)), "slots \(slots): \(settled)")
    }

    @Test func followsASlowerServerAfterItsNextBaseline() {
        var limit = AdaptiveConcurrency()
        var server = Server(slots: 16, noise: 0.1)
        _ = run(&limit, server: &server, steps: 2000)
        #expect(limit.limit >= 16)
        server.slots = 4
        let after = run(&limit, server: &server, steps: 1000)
        #expect(mean(after[500...]) <= 6, "\(mean(after[500...]))")
    }

    @Test func measuresItsBaselineAtTheMinimumFirstAndIgnoresQueuedSamples() {
        var limit = AdaptiveConcurrency(configuration: .init(initial: 10, baselineSamples: 3))
        #expect(limit.isMeasuringBaseline && limit.limit == 1)
        // Answers to requests sent before the measurement (10 in flight) do not count.
        limit.record(.answered(secondsPerUnit: 9, inFlight: 10))
        for latency in [1.0, 3.0, 2.0] { limit.record(.answered(secondsPerUnit: latency, inFlight: 1)) }
        #expect(!limit.isMeasuringBaseline && limit.baseline == 2 && limit.limit == 10)
    }

    @Test func anOverloadCutsTheLimitAtOnceAndOtherFailuresDoNot() {
        var limit = AdaptiveConcurrency(configuration: .init(initial: 20, baselineSamples: 1))
        limit.record(.answered(secondsPerUnit: 1, inFlight: 1))
        #expect(limit.limit == 20)
        limit.record(.other)
        #expect(limit.limit == 20)
        limit.record(.overloaded)
        #expect(limit.limit == 14)
        for _ in 0..<20 { limit.record(.overloaded) }
        #expect(limit.limit == 1, "never below the minimum")
    }
}
