import Foundation
import PacerPostgres
import PacerSimulator
import PacerTesting
import Testing

/// `--quota postgres://…?quota=NAME` (issue 13): runs that name one quota share one limit.
/// Three `pacer chat` runs at once against a simulator with a limit: with the shared quota
/// they learn the limit once and keep to it together; each on its own, each paces at the
/// whole limit and together they draw 429s.
@Suite(.timeLimit(.minutes(3))) struct SharedQuotaTests: ScratchFolder {
    let directory: URL

    init() throws { directory = try makeScratchFolder() }

    /// Runs three `pacer chat` commands at once, each over its own `prompts`, with `quota`
    /// (or none) against a limit of `rpm`; returns their statuses and the simulator's counts.
    func threeRuns(quota: String?, rpm: Int, prompts: Int) async throws -> ([Int32], SimulatorStatsSnapshot) {
        let configuration = SimulatorConfiguration(
            latency: .milliseconds(30),
            requestsPerMinute: rpm,
            limitWindow: .quantized
        )
        return try await withSimulator(configuration) { server in
            let statuses = await withTaskGroup(of: Int32.self) { group in
                for run in 0..<3 {
                    let input = try? write(
                        "p\(run).txt",
                        (1...prompts).map { "run \(run) prompt \($0)" }.joined(separator: "\n") + "\n"
                    )
                    group.addTask {
                        guard let input else { return -1 }
                        var arguments = [
                            "chat", input, "-o", path("out\(run)-\(quota == nil ? "own" : "shared").jsonl"), "-q",
                            "--base-url", server.baseURL, "--concurrency", "8", "--max-retries", "10",
                            "--backoff-base", "0.05", "--backoff-cap", "0.2",
                        ]
                        if let quota { arguments += ["--quota", quota] }
                        return await pacer(arguments)
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            return (statuses, server.stats.snapshot())
        }
    }

    @Test func runsThatShareAQuotaKeepToOneLimitTogether() async throws {
        try await withPostgres { database in
            let (statuses, stats) = try await threeRuns(
                quota: database.url + "?quota=test-org",
                rpm: 1200,
                prompts: 30
            )
            #expect(statuses == [0, 0, 0])
            let refused = stats.byStatus["429"] ?? 0
            #expect(stats.byStatus["200"] == 90)
            // The first requests of each run can meet a bucket the others just emptied before
            // the limit is learned; after that, none.
            #expect(refused <= 3, "\(stats.byStatus)")
            // The simulator tells the three runs apart by their User-Agent: 30 answers each.
            #expect(stats.byClient.count == 3, "\(stats.byClient)")
            for (client, counts) in stats.byClient {
                #expect(client.hasPrefix("pacer (run "), "\(client)")
                #expect(counts.byStatus["200"] == 30, "\(client): \(counts)")
            }
            // The three learned the limit once, kept in the database.
            let stored = try await QueueDatabase.withDatabase(try DatabaseURL(database.url)) { connection in
                try await StoredQuota.read("test-org", from: connection)
            }
            #expect(stored?.learnedRequestsPerMinute == 1200)
            // Leases of up to a second's worth (20 slots at 1,200 RPM): far fewer than requests.
            #expect((stored?.leases ?? 0) < 60, "\(String(describing: stored))")
        }
    }

    @Test func runsEachOnItsOwnDrawRefusals() async throws {
        // Each paces at the whole limit: together three times it. (Some items may even run
        // out of retries; the point is the refusals.) A low limit, so that three runs starved
        // of CPU by a loaded machine still pass it together.
        let (_, stats) = try await threeRuns(quota: nil, rpm: 300, prompts: 25)
        #expect((stats.byStatus["429"] ?? 0) > 3, "\(stats.byStatus)")
        // Every one of them was refused, as its own count in /stats says.
        #expect(stats.byClient.count == 3, "\(stats.byClient)")
        for (client, counts) in stats.byClient {
            #expect((counts.byStatus["429"] ?? 0) > 0, "\(client): \(counts)")
        }
    }
}
