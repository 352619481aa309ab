import Foundation
import PacerMetrics
import PacerSimulator
import PacerTesting
import Testing

@testable import PacerCLI

/// `--metrics-port` end to end: a run's counters are scraped over HTTP while it goes on,
/// move as its items finish, and end at the summary's figures.
@Suite(.timeLimit(.minutes(2))) struct MetricsRunTests: ScratchFolder {
    let directory: URL

    init() throws { directory = try makeScratchFolder() }

    /// `pacer chat --stream` reading prompts from a pipe: 30 prompts, a scrape once they are
    /// all done, 30 more, another scrape; then the pipe closes, the run ends, and the second
    /// scrape holds the summary's counts (no item can have finished after it).
    @Test func countersMoveDuringAStreamedChatRunAndEndAtItsSummary() async throws {
        let faults = SimulatorConfiguration(
            latency: .milliseconds(5),
            faultRate: 0.25,
            faults: [.rateLimited, .serverError],
            seed: 13,
            retryAfter: .milliseconds(20),
            streamTokenLatency: .milliseconds(1)
        )
        try await withSimulator(faults) { server in
            let run = try await runOverPipe(
                [
                    "chat", "--base-url", server.baseURL, "--stream", "--concurrency", "4", "--max-retries", "30",
                    "--retry-budget", "off", "--backoff-base", "0.01", "--backoff-cap", "0.05",
                ],
                batches: [(1...30).map { "prompt \($0)" }, (31...60).map { "prompt \($0)" }]
            ) { scrape in
                #expect(scrape.value("pacer_items_in_flight") == 0)
                #expect(scrape.value("pacer_concurrency_limit") == 4)
            }
            #expect(run.status == 0, "\(run.stderr)")
            let (first, last) = (run.scrapes[0], run.scrapes[1])
            #expect(first.done == 30 && last.done == 60)
            #expect(last.value("pacer_items_succeeded_total")! > first.value("pacer_items_succeeded_total")!)
            #expect(last.sum("pacer_attempts_total") > first.sum("pacer_attempts_total"))

            let summary = run.summary
            func count(_ key: String) -> Double { Double(summary[key] as? Int ?? -1) }
            #expect(last.value("pacer_items_succeeded_total") == count("succeeded"))
            #expect(last.sum("pacer_items_failed_total") == count("failed"))
            #expect(last.value("pacer_items_cancelled_total") == count("cancelled"))
            #expect(last.sum("pacer_attempts_total") == count("requests"))
            #expect(last.value("pacer_attempts_total", "outcome", "success") == count("succeeded"))
            #expect(last.value("pacer_rate_limited_responses_total") == count("rateLimitedResponses"))
            #expect(count("rateLimitedResponses") > 0, "the simulator's 429s were counted")
            #expect(last.value("pacer_retries_total") == count("retries"))
            let tokens = try #require(summary["tokens"] as? [String: Int])
            #expect(last.value("pacer_tokens_total", "type", "prompt") == Double(tokens["prompt"] ?? -1))
            #expect(last.value("pacer_tokens_total", "type", "completion") == Double(tokens["completion"] ?? -1))
            let paused = try #require(summary["pausedSeconds"] as? Double)
            #expect(paused > 0, "a 429 with Retry-After pauses every request")
            #expect(abs((last.value("pacer_quota_paused_seconds_total") ?? 0) - paused) < 1e-6)
            #expect(last.value("pacer_item_latency_seconds_count") == count("succeeded") + count("failed"))
            #expect(last.value("pacer_time_to_first_token_seconds_count") == count("succeeded"))
            #expect(last.value("pacer_time_to_first_token_seconds_bucket{le=\"+Inf\"}") == count("succeeded"))
        }
    }

    /// `pacer embed` counts texts as items, as its summary does, and requests as attempts: 64
    /// texts in one request are 64 items and 1 attempt. (The 65th text completes the pack of
    /// 64: the packer holds it until the input ends, then sends it alone.)
    @Test func embedCountsTextsAsItemsAndRequestsAsAttempts() async throws {
        try await withSimulator { server in
            let run = try await runOverPipe(
                ["embed", "--base-url", server.baseURL, "--pack", "64", "--dimensions", "2"],
                batches: [(1...65).map { "text \($0)" }],
                held: 1
            ) { scrape in
                #expect(scrape.value("pacer_items_succeeded_total") == 64)
                #expect(scrape.sum("pacer_items_failed_total") == 0)
                #expect(scrape.sum("pacer_attempts_total") == 1)
                #expect(scrape.value("pacer_item_latency_seconds_count") == 1)
                #expect((scrape.value("pacer_tokens_total", "type", "prompt") ?? 0) > 64)
            }
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.summary["succeeded"] as? Int == 65, "\(run.summary)")
            #expect(run.summary["requests"] as? Int == 2)
        }
    }

    /// In process, as the test suite runs every command: the counters move while `pacer fetch`
    /// runs, and a second run in the same process starts again from zero.
    @Test func fetchServesItsOwnCountersInProcessAndASecondRunStartsFromZero() async throws {
        // Answers of 100 ms: 80 items two at a time take about 4 s, long enough for scrapes
        // every 40 ms to see the counter move even when a starved machine delays them by a
        // second or two (at 25 ms, a run of 1 s could end between two scrapes).
        try await withSimulator(SimulatorConfiguration(latency: .milliseconds(100))) { server in
            let input = try write("urls.txt", (1...80).map { server.postURL($0) }.joined(separator: "\n") + "\n")
            for run in 1...2 {
                let port = try await freePort()
                let url = "http://127.0.0.1:\(port)/metrics"
                let arguments = [
                    "fetch", input, "-o", path("out\(run).jsonl"), "-q", "--concurrency", "2", "--metrics-port",
                    "\(port)",
                ]
                let seen = await withTaskGroup(of: [MetricsScrape].self) { group in
                    group.addTask {
                        #expect(await pacer(arguments) == 0)
                        return []
                    }
                    group.addTask {
                        var seen: [MetricsScrape] = []
                        while !Task.isCancelled {
                            if let scrape = try? await MetricsScrape.get(url, timeout: .seconds(2)) {
                                seen.append(scrape)
                            }
                            try? await Task.sleep(for: .milliseconds(40))
                        }
                        return seen
                    }
                    _ = await group.next()
                    group.cancelAll()
                    return await group.reduce([], +)
                }
                let succeeded = seen.compactMap { $0.value("pacer_items_succeeded_total") }
                // The second run's counters are its own: they never pass its 80 items.
                #expect(
                    succeeded == succeeded.sorted() && succeeded.allSatisfy { $0 <= 80 },
                    "run \(run): \(succeeded)"
                )
                #expect(Set(succeeded).count >= 2, "the counter moved while the run went on: \(succeeded)")
                #expect(seen.allSatisfy { ($0.value("pacer_items_in_flight") ?? 99) <= 2 })
            }
        }
    }

    /// Nothing is sent when the port is taken, and the error names the option and the address.
    @Test func aPortInUseStopsTheRunBeforeAnyRequestAndNamesTheOption() async throws {
        let input = try write("prompts.txt", "one\ntwo\n")
        try await MetricsServer(configuration: .init(port: 0)) { [] }.withRunning { taken in
            try await withSimulator { server in
                let (status, stderr) = try await PacerProcess(
                    ["chat", input, "--base-url", server.baseURL, "--metrics-port", "\(taken.port)"],
                    stderrFile: directory.appendingPathComponent("stderr.txt")
                ).run()
                #expect(status == 2)
                #expect(
                    stderr.contains(
                        "error: --metrics-port \(taken.port): cannot listen on 127.0.0.1:\(taken.port): the port is in use"
                    ),
                    "\(stderr)"
                )
                #expect(server.stats.snapshot().requests == 0)
            }
        }
    }

    /// Runs `pacer arguments… - --metrics-port 0` reading stdin from a pipe: writes each batch
    /// of lines, scrapes once the items done reach the lines written so far less the `held`
    /// ones the command keeps until more come (and hands each such scrape to `check`), then
    /// closes the pipe and waits for the end.
    func runOverPipe(
        _ arguments: [String],
        batches: [[String]],
        held: Int = 0,
        check: (MetricsScrape) -> Void = { _ in }
    ) async throws -> (scrapes: [MetricsScrape], status: Int32, stderr: String, summary: [String: Any]) {
        let stdin = Pipe()
        let stderrFile = directory.appendingPathComponent("stderr.txt")
        let summaryPath = path("summary.json")
        let process = try PacerProcess(
            Array(arguments.prefix(1)) + ["-", "-o", path("out.jsonl"), "--summary-json", summaryPath]
                + arguments.dropFirst() + ["--metrics-port", "0"],
            stderrFile: stderrFile,
            stdinPipe: stdin
        )
        async let ended = process.run()
        // Whatever happens below, the end of the input lets the run end (declared after
        // `ended`, so that it runs before the implicit wait for it).
        defer { try? stdin.fileHandleForWriting.close() }
        let url = try await announcedURL(in: stderrFile)
        var scrapes: [MetricsScrape] = []
        var sent = 0
        for batch in batches {
            stdin.fileHandleForWriting.write(Data(batch.map { $0 + "\n" }.joined().utf8))
            sent += batch.count
            let scrape = try await self.scrape(url) { $0.done >= Double(sent - held) }
            check(scrape)
            scrapes.append(scrape)
        }
        try stdin.fileHandleForWriting.close()
        let (status, stderr) = try await ended
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: summaryPath)))
        return (scrapes, status, stderr, try #require(summary as? [String: Any]))
    }

    /// The metrics address the run prints on stderr (`metrics: http://127.0.0.1:PORT/metrics`).
    func announcedURL(in file: URL) async throws -> String {
        for _ in 0..<200 {
            let text = (try? String(contentsOf: file, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("metrics: ") }) {
                return String(line.dropFirst("metrics: ".count))
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw MetricsTestFailure("the run never said where its metrics are")
    }

    /// Scrapes until `ready` holds (every 50 ms, for at most 60 s). A scrape that fails (a
    /// timeout on a starved machine) is tried again, not the end of the test.
    func scrape(_ url: String, until ready: (MetricsScrape) -> Bool) async throws -> MetricsScrape {
        var last: MetricsScrape?
        var lastError: (any Error)?
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            do {
                let scrape = try await MetricsScrape.get(url)
                if ready(scrape) { return scrape }
                last = scrape
            } catch {
                lastError = error
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw MetricsTestFailure(
            "not ready after 60 s: \(last?.values ?? [:]), last error: \(lastError.map { "\($0)" } ?? "none")"
        )
    }

    /// A port nothing listens on now (one the system gave, then let go).
    func freePort() async throws -> Int {
        try await MetricsServer(configuration: .init(port: 0)) { [] }.withRunning { $0.port }
    }
}

/// A wait in a metrics test that did not end as expected.
struct MetricsTestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension MetricsScrape {
    /// Items ended: succeeded, failed or cancelled.
    var done: Double {
        sum("pacer_items_succeeded_total") + sum("pacer_items_failed_total") + sum("pacer_items_cancelled_total")
    }
}
