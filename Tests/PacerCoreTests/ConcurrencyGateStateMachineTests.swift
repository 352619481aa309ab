import Testing

@testable import PacerCore

/// `--concurrency auto`'s limit against a model of an LLM server with `slots` parallel slots
/// that queues first come, first served: up to `slots` requests run at the base latency per
/// token, past it they queue, and the latency grows with the in-flight count; in the first
/// round (requests sent together) the k-th answer waited for the ⌈k / slots⌉ − 1 batches
/// before it. (Issue 11.)
@Suite struct ConcurrencyGateStateMachineTests {
    struct Server {
        var slots: Int
        var noise: Double
        var random = SplitMix(seed: 1)
        var answered = 0

        mutating func latency(inFlight: Int, firstRound: Int) -> Double {
            defer { answered += 1 }
            let queued =
                answered < firstRound
                ? Double((answered / slots) + 1) : max(1, Double(inFlight) / Double(slots))
            return queued * (1 + noise * random.unit())
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
    func run(_ limit: inout ConcurrencyGateStateMachine, server: inout Server, steps: Int) -> [Int] {
        let firstRound = limit.configuration.initial
        return (0..<steps).map { _ in
            let inFlight = limit.limit
            let latency = server.latency(inFlight: inFlight, firstRound: firstRound)
            limit.record(.answered(secondsPerUnit: latency, inFlight: inFlight))
            return inFlight
        }
    }

    func mean(_ values: ArraySlice<Int>) -> Double { Double(values.reduce(0, +)) / Double(values.count) }

    @Test(arguments: [(1, 0.1), (8, 0.1), (8, 0.5), (32, 0.1)])
    func settlesJustAboveTheServersSlots(slots: Int, noise: Double) {
        var limit = ConcurrencyGateStateMachine()
        var server = Server(slots: slots, noise: noise)
        let used = run(&limit, server: &server, steps: 3000)
        let settled = mean(used[300...])
        // At least the slots (full throughput), at most 1.5 × them (or 2 for one slot).
        #expect(settled >= Double(slots) && settled <= max(2, 1.5 * Double(slots)), "slots \(slots): \(settled)")
    }

    @Test func followsASlowerServerAfterItsNextBaseline() {
        var limit = ConcurrencyGateStateMachine()
        var server = Server(slots: 16, noise: 0.1)
        _ = run(&limit, server: &server, steps: 2000)
        #expect(limit.limit >= 16)
        server.slots = 4
        let after = run(&limit, server: &server, steps: 1000)
        // About one above tolerance × slots (1.3 × 4 + 1), where the gradient's shrinking
        // meets its one of headroom.
        #expect(mean(after[500...]) <= 6.5, "\(mean(after[500...]))")
    }

    @Test func theFirstRoundsFastestAnswerIsTheBaselineAndTheLimitThenDoublesARound() {
        var limit = ConcurrencyGateStateMachine(configuration: .init(initial: 4))
        #expect(!limit.isMeasuringBaseline && limit.limit == 4)
        // One slot, first come first served: the first answer waited for nobody.
        for latency in [1.0, 2.0, 3.0] { limit.record(.answered(secondsPerUnit: latency, inFlight: 4)) }
        #expect(limit.baseline == nil)
        limit.record(.answered(secondsPerUnit: 4.0, inFlight: 4))
        #expect(limit.baseline == 1)
        // A server with room: answers at the baseline add one each.
        var roomy = ConcurrencyGateStateMachine(configuration: .init(initial: 4))
        for _ in 0..<4 { roomy.record(.answered(secondsPerUnit: 1, inFlight: 4)) }
        for _ in 0..<4 { roomy.record(.answered(secondsPerUnit: 1, inFlight: 4)) }
        #expect(roomy.limit == 8)
        // Latency grows past the tolerance: slow start ends, the limit comes down.
        for _ in 0..<40 { roomy.record(.answered(secondsPerUnit: 3, inFlight: 8)) }
        #expect(roomy.limit < 8)
    }

    @Test func aMeasurementAtTheMinimumIgnoresQueuedAnswersAndIsRepeatedLessWhileItHolds() {
        var limit = ConcurrencyGateStateMachine(
            configuration: .init(initial: 2, remeasureEvery: 10, baselineSamples: 3)
        )
        for _ in 0..<2 { limit.record(.answered(secondsPerUnit: 1, inFlight: 2)) }
        func runUntilMeasuring() -> Int {
            var samples = 0
            while !limit.isMeasuringBaseline, samples < 1000 {
                limit.record(.answered(secondsPerUnit: 1, inFlight: limit.limit))
                samples += 1
            }
            return samples
        }
        #expect(runUntilMeasuring() == 10)
        #expect(limit.limit == 1)
        // Answers to requests sent before the measurement do not count.
        limit.record(.answered(secondsPerUnit: 9, inFlight: 10))
        for latency in [1.0, 1.05, 0.95] { limit.record(.answered(secondsPerUnit: latency, inFlight: 1)) }
        #expect(!limit.isMeasuringBaseline && limit.baseline == 1)
        // The baseline held: twice as long until the next; then four times.
        #expect(runUntilMeasuring() == 20)
        for _ in 0..<3 { limit.record(.answered(secondsPerUnit: 1, inFlight: 1)) }
        #expect(runUntilMeasuring() == 40)
        // A baseline that moved (the server got twice as slow) is measured again soon.
        for _ in 0..<3 { limit.record(.answered(secondsPerUnit: 2, inFlight: 1)) }
        #expect(limit.baseline == 2)
        #expect(runUntilMeasuring() == 10)
    }

    @Test func anOverloadCutsTheLimitAtOnceAndOtherFailuresDoNot() {
        var limit = ConcurrencyGateStateMachine(configuration: .init(initial: 20))
        #expect(limit.limit == 20)
        limit.record(.other)
        #expect(limit.limit == 20)
        limit.record(.overloaded)
        #expect(limit.limit == 14)
        for _ in 0..<20 { limit.record(.overloaded) }
        #expect(limit.limit == 1, "never below the minimum")
    }
}
