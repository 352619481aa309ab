import PacerCore
import Testing

@testable import PacerCLI

@Suite struct ProgressTests {
    @Test func theLineCountsEventsAndEstimatesTheRest() {
        var state = ProgressState(total: 10)
        for index in 0..<4 { state.apply(.started(index: index, id: "\(index)")) }
        state.apply(.attemptFailed(index: 0, id: "0", attempt: 1, error: ItemError(kind: .timeout, message: "t", isRetryable: true), retryIn: .seconds(1)))
        state.apply(.finished(index: 0, id: "0", outcome: .succeeded, attempts: 2, tokens: TokenUsage(prompt: 10, completion: 5), costUSD: 0.5))
        state.apply(.finished(index: 1, id: "1", outcome: .failed, attempts: 1, tokens: nil, costUSD: nil))
        #expect(state.line(elapsed: 2, showTokens: true) == "[ 2/10 ] ok 1 · failed 1 · in flight 2 · retries 1 · 1.0/s · 15 tokens · $0.5000 · ETA 8s")
        #expect(ProgressState(total: nil).line(elapsed: 0, showTokens: false) == "[ 0 ] ok 0 · failed 0 · in flight 0 · retries 0 · 0.0/s")
    }

    @Test(arguments: [(5.0, "5s"), (59.2, "1m0s"), (125, "2m5s"), (3700, "1h1m")])
    func durations(seconds: Double, text: String) {
        #expect(ProgressState.duration(seconds) == text)
    }
}
