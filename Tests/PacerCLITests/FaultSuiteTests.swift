import Foundation
import PacerSimulator
import PacerTesting
import Testing

@testable import PacerCLI

/// Every fault the simulator can inject, one at a time and mixed: each item ends with exactly
/// one output line, a success when the fault is transient and a classified failure when the
/// answer is permanent, and the simulator saw no item more often than its attempts say.
/// Serialized: run all at once, these would load the machine enough to disturb the real-time
/// pacing test.
@Suite(.serialized) struct FaultSuiteTests: ScratchFolder {
    let directory: URL

    init() throws { directory = try makeScratchFolder() }

    /// Fast retries, no retry budget (half the requests fail on purpose), short timeouts.
    static let quickRetries = [
        "--max-retries", "12", "--backoff-base", "0.005", "--backoff-cap", "0.05", "--retry-budget", "off", "--timeout",
        "1", "-q",
    ]

    /// Runs fetch over `count` posts and checks the one-line-per-item and attempts invariants.
    func fetchAll(_ configuration: SimulatorConfiguration, count: Int = 24) async throws -> [[String: Any]] {
        let output = path("out-\(UUID().uuidString).jsonl")
        try await withSimulator(configuration) { server in
            let input = try write(
                "urls-\(UUID().uuidString).txt",
                (1...count).map { server.postURL($0) }.joined(separator: "\n")
            )
            let status = await pacer(["fetch", input, "-o", output, "--concurrency", "8"] + Self.quickRetries)
            let written = try lines(output)
            #expect(status == (written.allSatisfy { $0["success"] as? Bool == true } ? 0 : 1))
            // Exactly one line per item.
            let ids = written.compactMap { $0["id"] as? String }
            #expect(ids.count == count && Set(ids) == Set((1...count).map(String.init)))
            // No item was requested more often than its attempts allow.
            let byItem = server.stats.snapshot().byItem
            for line in written {
                let id = try #require(line["id"] as? String)
                #expect(byItem["posts/\(id)"] == line["attempts"] as? Int, "item \(id)")
            }
        }
        return try lines(output)
    }

    @Test(arguments: Fault.all)
    func eachTransientFaultEndsInSuccess(_ fault: Fault) async throws {
        let configuration = SimulatorConfiguration(
            faultRate: 0.5,
            faults: [fault],
            seed: 21,
            retryAfter: .milliseconds(20),
            slowDelay: .seconds(3)
        )
        let written = try await fetchAll(configuration)
        #expect(
            written.allSatisfy { $0["success"] as? Bool == true },
            "\(written.filter { $0["success"] as? Bool != true })"
        )
    }

    @Test func aMixOfEveryFaultAt30PercentLosesAndDuplicatesNothing() async throws {
        let configuration = SimulatorConfiguration(
            faultRate: 0.3,
            faults: Fault.all,
            seed: 5,
            retryAfter: .milliseconds(20),
            slowDelay: .seconds(3)
        )
        let written = try await fetchAll(configuration, count: 60)
        #expect(written.allSatisfy { $0["success"] as? Bool == true })
    }

    @Test func permanentAnswersAreClassifiedFailuresAfterOneAttempt() async throws {
        let input = try write(
            "prompts.jsonl",
            """
            {"id": "ok", "prompt": "fine"}
            {"id": "bad-request", "prompt": "too hot", "temperature": 5}
            {"id": "no-model", "prompt": "who", "model": "unknown-model"}

            """
        )
        let output = path("chat.jsonl")
        try await withSimulator { server in
            #expect(await pacer(["chat", input, "--base-url", server.baseURL, "-o", output] + Self.quickRetries) == 1)
        }
        let byID = Dictionary(uniqueKeysWithValues: try lines(output).map { ($0["id"] as! String, $0) })
        #expect(byID["ok"]?["success"] as? Bool == true)
        for (id, status) in [("bad-request", 400), ("no-model", 404)] {
            let error = try #require(byID[id]?["error"] as? [String: Any])
            #expect(error["kind"] as? String == "http_status")
            #expect(error["status"] as? Int == status)
            #expect(byID[id]?["attempts"] as? Int == 1)
        }
        // 401: every item fails once, classified, with one line each.
        let unauthorized = path("401.jsonl")
        try await withSimulator(SimulatorConfiguration(apiKey: "sk-required-key-000")) { server in
            #expect(
                await pacer(["chat", input, "--base-url", server.baseURL, "-o", unauthorized] + Self.quickRetries) == 1
            )
            #expect(server.stats.snapshot().byStatus["401"] == 3)
        }
        let refused = try lines(unauthorized)
        #expect(refused.count == 3)
        #expect(
            refused.allSatisfy {
                ($0["error"] as? [String: Any])?["status"] as? Int == 401 && $0["attempts"] as? Int == 1
            }
        )
    }

    /// `--deadline` bounds an item across its attempts: with answers that stall past it, each
    /// item ends at its deadline as a timeout failure, although `--timeout` and the retries
    /// would allow much longer.
    @Test func theItemDeadlineEndsItemsWhoseAnswersNeverCome() async throws {
        let output = path("deadline.jsonl")
        let started = ContinuousClock.now
        // Answers held 30 s, a bound of 20 s: about 0.6 s on an idle machine, with room for a
        // starved one; without the deadline, the 10 s timeout and its retries go far past it.
        try await withSimulator(SimulatorConfiguration(faultRate: 1, faults: [.slow], slowDelay: .seconds(30))) {
            server in
            let input = try write("urls.txt", (1...3).map { server.postURL($0) }.joined(separator: "\n"))
            let status = await pacer([
                "fetch", input, "-o", output, "--timeout", "10", "--max-retries", "5", "--deadline", "0.5", "-q",
            ])
            #expect(status == 1)
        }
        #expect(started.duration(to: .now) < .seconds(20))
        let written = try lines(output)
        #expect(written.count == 3)
        for line in written {
            let error = try #require(line["error"] as? [String: Any])
            #expect(error["kind"] as? String == "timeout")
            #expect(error["message"] as? String == "no response within 0.5s (item deadline of 0.5s reached)")
            #expect(line["attempts"] as? Int == 1)
        }
    }
}
