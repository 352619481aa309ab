import PacerCore
import Testing

@testable import PacerCLI

@Suite struct ProgressTests {
    @Test func theLineShowsTheCountersAndEstimatesTheRest() {
        var counts = BatchProgress.Snapshot()
        counts.succeeded = 1
        counts.failed = 1
        counts.inFlight = 2
        counts.retries = 1
        counts.tokens = 15
        counts.costUSD = 0.5
        let state = ProgressState(total: 10, counts: counts)
        #expect(
            state.line(elapsed: 2, showTokens: true)
                == "[ 2/10 ] ok 1 · failed 1 · in flight 2 · retries 1 · 1.0/s · 15 tokens · $0.5000 · ETA 8s"
        )
        #expect(
            ProgressState(total: nil).line(elapsed: 0, showTokens: false)
                == "[ 0 ] ok 0 · failed 0 · in flight 0 · retries 0 · 0.0/s"
        )
    }

    @Test(arguments: [(5.0, "5s"), (59.2, "1m0s"), (125, "2m5s"), (3700, "1h1m")])
    func durations(seconds: Double, text: String) {
        #expect(ProgressState.duration(seconds) == text)
    }
}
