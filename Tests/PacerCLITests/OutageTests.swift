import Foundation
import PacerSimulator
import PacerTesting
import Testing

/// A server that refuses connections long enough for the circuit breaker to open, then comes
/// back: the paced batch must finish, through the breaker's half-open probe.
@Suite struct OutageTests: ScratchFolder {
    let directory: URL

    init() throws { directory = try makeScratchFolder() }

    /// Refused until the breaker has opened and a probe has failed (seen in `--verbose`'s
    /// log of failed attempts), then served. Before, the probe was spent on a pacing wait and
    /// the run never wrote anything again.
    @Test(.timeLimit(.minutes(2)))
    func aPacedFetchFinishesSoonAfterTheServerComesBack() async throws {
        // A port that was free a moment ago, and is refused until the simulator takes it again.
        let port = try await withSimulator { $0.port }
        let urls = (1...6).map { "http://127.0.0.1:\(port)/posts/\($0)" }
        let input = try write("urls.txt", urls.joined(separator: "\n"))
        let output = path("out.jsonl")
        let stderrFile = directory.appendingPathComponent("stderr.txt")
        let run = try PacerProcess(
            ["fetch", input, "-o", output, "--rpm", "120", "--concurrency", "2", "--verbose", "--no-resume"],
            stderrFile: stderrFile
        )
        let ended = Task { try await run.run() }
        // Five refusals open the breaker; the sixth and seventh are failed probes.
        let probesFailed = try await eventually(within: .seconds(60)) {
            let log = (try? String(contentsOf: stderrFile, encoding: .utf8)) ?? ""
            return log.components(separatedBy: "attempt failed").count - 1 >= 7
        }
        #expect(probesFailed, "the breaker never opened and probed twice")
        let cameBack = ContinuousClock.now
        let (status, stderr) = try await withSimulator(SimulatorConfiguration(port: port)) { _ in try await ended.value
        }
        let after = cameBack.duration(to: .now)
        #expect(status == 0, "\(stderr.suffix(2000))")
        #expect(try lines(output).count == 6)
        #expect(try lines(output).allSatisfy { $0["success"] as? Bool == true })
        // The next probe comes within the breaker's cooldown (4 s after two failed probes),
        // then six requests at 120 RPM: 6–7 s on an idle machine. The bound guards against the
        // old hang (the run never wrote again), with room for a starved machine.
        #expect(after < .seconds(60), "finished \(after) after the server came back")
    }
}
