import Foundation
import PacerPostgres
import PacerSimulator
import PacerTesting
import Testing

/// `--routes` with `--quota` (issue 22): each deployment's limits are shared through
/// PostgreSQL, one row per deployment, by every process that sends to it. Three routed runs
/// at once over two rate-limited simulators keep to each deployment's limit together; each
/// on its own, each paces at the whole limit and together they draw 429s.
@Suite(.timeLimit(.minutes(3))) struct RoutesSharedQuotaTests: ScratchFolder {
    let directory: URL

    init() throws { directory = try makeScratchFolder() }

    /// Runs three `pacer batch --routes` commands at once, each over its own `count`
    /// requests, with `quota` (or none), over two simulators limited to `rpm` (given in the
    /// routes file, or learned from the answers); returns their statuses and the simulators'
    /// counts.
    func threeRoutedRuns(
        quota: String?,
        rpm: Int,
        given: Bool = true,
        count: Int
    ) async throws -> ([Int32], [SimulatorStatsSnapshot]) {
        let configuration = SimulatorConfiguration(
            latency: .milliseconds(30),
            requestsPerMinute: rpm,
            limitWindow: .quantized
        )
        return try await withSimulator(configuration) { first in
            try await withSimulator(configuration) { second in
                let limit = given ? #""rpm": \#(rpm), "# : ""
                let routes = try write(
                    "routes.json",
                    """
                    {"deployments": [
                      {"name": "one", "base_url": "\(first.baseURL)", "api_key_env": "KEY_A", \(limit)"concurrency": 4, "models": ["gpt-4o-mini"]},
                      {"name": "two", "base_url": "\(second.baseURL)", "api_key_env": "KEY_A", \(limit)"concurrency": 4, "models": ["gpt-4o-mini"]}
                    ]}
                    """
                )
                let statuses = await withTaskGroup(of: Int32.self) { group in
                    for run in 0..<3 {
                        let input = try? write(
                            "in\(run).jsonl",
                            (0..<count).map {
                                #"{"custom_id":"r\#(run)-\#($0)","method":"POST","url":"/v1/chat/completions","body":{"model":"gpt-4o-mini","max_tokens":8,"messages":[{"role":"user","content":"run \#(run) question \#($0)"}]}}"#
                            }.joined(separator: "\n") + "\n"
                        )
                        group.addTask {
                            guard let input else { return -1 }
                            var arguments = [
                                "batch", input, "-o", path("out\(run)-\(quota == nil ? "own" : "shared").jsonl"), "-q",
                                "--routes", routes, "--max-retries", "10", "--backoff-base", "0.05",
                                "--backoff-cap", "0.2",
                            ]
                            if let quota { arguments += ["--quota", quota] }
                            return await pacer(arguments, environment: ["KEY_A": "sk-a"])
                        }
                    }
                    return await group.reduce(into: []) { $0.append($1) }
                }
                return (statuses, [first.stats.snapshot(), second.stats.snapshot()])
            }
        }
    }

    @Test(arguments: [true, false])
    func routedRunsThatShareAQuotaKeepToEachDeploymentsLimitTogether(limitsGiven: Bool) async throws {
        try await withPostgres { database in
            let (statuses, stats) = try await threeRoutedRuns(
                quota: database.url + "?quota=test-org",
                rpm: 1200,
                given: limitsGiven,
                count: 30
            )
            #expect(statuses == [0, 0, 0])
            #expect(stats.map { $0.byStatus["200"] ?? 0 }.reduce(0, +) == 90)
            // Both deployments took a share; neither refused more than a stray request (the
            // first of each run may meet a bucket the others emptied before a limit is learned).
            for deployment in stats {
                #expect((deployment.byStatus["200"] ?? 0) >= 15, "\(deployment.byStatus)")
                #expect((deployment.byStatus["429"] ?? 0) <= (limitsGiven ? 1 : 3), "\(deployment.byStatus)")
            }
            // One row per deployment, under the quota's name, leased by the three runs.
            try await QueueDatabase.withDatabase(try DatabaseURL(database.url)) { connection in
                for name in ["test-org/one", "test-org/two"] {
                    let stored = try await StoredQuota.read(name, from: connection)
                    #expect((stored?.leases ?? 0) > 0, "\(name): \(String(describing: stored))")
                    // Learned once, by whichever run heard it first, for all three.
                    if !limitsGiven { #expect(stored?.learnedRequestsPerMinute == 1200) }
                }
                #expect(try await StoredQuota.read("test-org", from: connection) == nil)
            }
        }
    }

    @Test func routedRunsEachOnItsOwnDrawRefusals() async throws {
        // Each run paces each deployment at its whole limit: together three times it.
        let (_, stats) = try await threeRoutedRuns(quota: nil, rpm: 300, count: 25)
        #expect(stats.map { $0.byStatus["429"] ?? 0 }.reduce(0, +) > 3, "\(stats.map(\.byStatus))")
    }
}
