import Foundation
import PacerSimulator
import PacerTesting
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Ctrl-C against a paced batch: requests that were waiting for the rate limit are never sent,
/// so the run does not sit out the grace period for them.
@Suite struct InterruptTests: ScratchFolder {
    let directory: URL

    init() throws { directory = try makeScratchFolder() }

    /// At 30 RPM with eight workers, one request goes every two seconds and the others wait
    /// for their slots. SIGINT after the first answers must end the run at once (it waited the
    /// whole grace before, for requests that were never on the wire); the rerun completes.
    @Test func sigintUnderAPacedBatchExitsAtOnceAndTheRerunCompletes() async throws {
        let count = 8
        let input = try write("prompts.txt", (1...count).map { "prompt \($0)" }.joined(separator: "\n"))
        let output = path("out.jsonl")
        try await withSimulator(SimulatorConfiguration(latency: .milliseconds(20))) { server in
            let arguments = ["chat", input, "--base-url", server.baseURL, "-o", output, "--concurrency", "8", "-q"]
            let run = try PacerProcess(
                // A grace of 60 s, so that a bound of 30 s tells an exit at once on a starved
                // machine from one that sits out the grace.
                arguments + ["--rpm", "30", "--grace", "60"],
                stderrFile: directory.appendingPathComponent("stderr.txt")
            )
            let signalled = SignalTime()
            server.stats.when(requests: 2) {
                signalled.mark()
                send(SIGINT, to: run.pid)
            }
            let (status, stderr) = try await run.run()
            let took = signalled.elapsed
            #expect(status == 130, "\(stderr)")
            // Well under 2 s on an idle machine; the bound leaves room for a starved one (the
            // whole suite runs in parallel) and still tells it from the 60 s grace.
            #expect(took < 30, "exited \(took) s after SIGINT")
            // What was answered was written; nothing else was sent.
            #expect(try lines(output).count == server.stats.snapshot().requests)

            let rerun = try PacerProcess(arguments, stderrFile: directory.appendingPathComponent("stderr-rerun.txt"))
            #expect(try await rerun.run().status == 0)
        }
        let ids = try lines(output).compactMap { $0["id"] as? String }
        #expect(ids.count == count && Set(ids).count == count)
    }
}

/// When a signal was sent, on the wall clock (the test measures the process, not a model).
final class SignalTime: Sendable {
    private let sent = Mutex<ContinuousClock.Instant?>(nil)
    func mark() { sent.withLock { $0 = .now } }
    /// Seconds since ``mark()``.
    var elapsed: Double {
        guard let start = sent.withLock({ $0 }) else { return .infinity }
        let (seconds, attoseconds) = start.duration(to: .now).components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
