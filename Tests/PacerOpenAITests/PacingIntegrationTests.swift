import PacerCore
import PacerHTTP
import PacerOpenAI
import PacerSimulator
import PacerTesting
import Testing

/// Pacing against the real simulator on loopback, in real time (kept to a few seconds).
@Suite struct PacingIntegrationTests {
    func client(_ server: Simulator.Running, _ transport: HTTPTransport, maxTokens: Int = 20) -> ChatClient {
        ChatClient(configuration: .init(baseURL: server.baseURL, maxTokens: maxTokens), transport: transport)
    }

    func runner(pacing: RateLimits?, concurrency: Int = 20) -> BatchRunner<ContinuousClock> {
        BatchRunner(
            configuration: BatchConfiguration(
                maxConcurrent: concurrency,
                attemptTimeout: .seconds(5),
                retry: RetryPolicy(maxRetries: 3, backoff: Backoff(base: .milliseconds(10), cap: .milliseconds(100))),
                pacing: pacing
            ),
            random: .seeded(4)
        )
    }

    @Test func at1200RPMTheClientHoldsTheRateWithout429s() async throws {
        let configuration = SimulatorConfiguration(requestsPerMinute: 1200, limitWindow: .quantized)
        try await withSimulator(configuration) { server in
            try await HTTPTransport.withTransport(configuration: .init(maxConnectionsPerHost: 20)) { transport in
                let count = 140
                let prompts = (1...count).map { ChatPrompt("paced prompt \($0)") }
                let timed = TimedOperation(base: client(server, transport))
                let (summary, oversleep) = try await worstOversleep {
                    try await runner(pacing: RateLimits(requestsPerMinute: 1200)).collect(prompts, operation: timed).1
                }
                #expect(summary.succeeded == count)
                // Never ahead of the limit: by its n-th start the client has had at most one
                // second's burst (98% of 20, less one: 18) plus the rate at 98% since its first.
                // Checked always: a starved machine only makes starts later.
                let starts = timed.starts
                let rate = 1200 * 0.98 / 60
                let ahead = starts.indices.filter { index in
                    starts[index] - starts[0] < Double(index + 1 - 18 - 1) / rate - 0.05
                }
                #expect(ahead.isEmpty, "starts ahead of the pace: \(ahead.prefix(5))")
                // Near the limit: the rate beyond the burst, from the median time ten requests
                // take (a stall makes one long gap and then a cluster as the pacer catches up;
                // spans of ten absorb the cluster and their median ignores the gap).
                let steadyStarts = Array(starts.dropFirst(18))
                let spans = zip(steadyStarts.dropFirst(10), steadyStarts).map { $0 - $1 }.sorted()
                let perMinute = 60 * 10 / spans[spans.count / 2]
                // Not above it when the run took under 1.5× its paced time (a pacer that runs
                // ahead only makes the run shorter) and was not starved of CPU (see below): inside
                // the full suite on two cores one run took 3.5× (21 s), and one on a fresh clone
                // beside other load measured 1,277 per minute in a run of normal length: the
                // requests a stall held all start when it ends, and their cluster can fill the
                // median. A pacer that runs ahead still fails the check above, which always holds.
                let paced = Double(count - 18) / rate
                if starts[starts.count - 1] - starts[0] < 1.5 * paced, oversleep < .milliseconds(100) {
                    #expect(perMinute <= 1200 * 1.05, "\(perMinute) per minute")
                }
                // Not below it, and no 429s, unless the machine was starved of CPU meanwhile,
                // which no pacer can make up (a late start) and which bunches requests into one
                // second of the server's window (a 429). Starved: a task sleeping 20 ms at a time
                // beside the run woke over 100 ms late at least once; on an idle machine it wakes
                // within a few, and the suite's start on two cores delays tasks by a second or
                // two. (Not the run's length, which a pacer that is too slow stretches too.)
                let seconds = server.stats.snapshot().perSecond.drop { $0.requests == 0 }
                try #require(seconds.count >= 6, "\(seconds)")
                if oversleep < .milliseconds(100) {
                    #expect(perMinute >= 1200 * 0.95, "\(perMinute) per minute")
                    // No 429s in steady state: the seconds after the first two (the burst, and
                    // new connections that can spill it into a second one) and before the last.
                    let steady = seconds.dropFirst(2).dropLast()
                    #expect(steady.allSatisfy { $0.rateLimited == 0 }, "\(Array(seconds))")
                }
            }
        }
    }

    @Test(arguments: [LimitWindow.sliding, .quantized])
    func theSimulatorEnforcesItsLimit(window: LimitWindow) async throws {
        // Sliding: 60 in any minute. Quantized: a bucket of one second's worth, at 6 RPM one
        // request every 10 s, so that a loaded machine's pause between the requests does not
        // refill it (at 60 RPM a one-second pause did).
        let limit = window == .sliding ? 60 : 6
        let allowed = window == .sliding ? 60 : 1
        try await withSimulator(SimulatorConfiguration(requestsPerMinute: limit, limitWindow: window)) { server in
            try await HTTPTransport.withTransport { transport in
                // Single attempts, straight through the fetcher: no engine, no pacing.
                let fetcher = URLFetcher(transport: transport)
                var results: [Result<FetchResult, ItemError>] = []
                let started = ContinuousClock.now
                for id in 1...(allowed + 2) {
                    do {
                        results.append(
                            .success(
                                try await fetcher.attempt(
                                    BatchItem(index: id, id: "\(id)", input: FetchRequest(url: server.postURL(id))),
                                    attempt: 1
                                )
                            )
                        )
                    } catch let error as ItemError {
                        results.append(.failure(error))
                    }
                }
                #expect(results.prefix(allowed).allSatisfy { (try? $0.get()) != nil })
                let refused = results.suffix(2).compactMap { result -> ItemError? in
                    if case .failure(let error) = result { return error }
                    return nil
                }
                #expect(refused.count == 2 && refused.allSatisfy { $0.status == 429 })
                // The wait it asks for: until a slot frees (within 10 s, or the rest of the minute).
                let wait = try #require(refused.first?.retryAfter)
                // Sliding: the first request leaves the window a minute after it was sent, however
                // long a loaded machine took over the 62 requests.
                let elapsed = started.duration(to: .now)
                #expect(
                    window == .sliding ? wait > .seconds(59) - elapsed : wait <= .seconds(10),
                    "\(wait), \(elapsed)"
                )
                #expect(refused.first?.rateLimit?.requestLimit == limit)
                #expect(refused.first?.rateLimit?.remainingRequests == 0)
            }
        }
    }

    @Test func insufficientQuotaFailsAtOnceWithTheServersMessage() async throws {
        try await withSimulator(SimulatorConfiguration(quotaExhausted: true)) { server in
            try await HTTPTransport.withTransport { transport in
                let (results, summary) = try await runner(pacing: RateLimits()).collect(
                    [ChatPrompt("hi"), ChatPrompt("there")],
                    operation: client(server, transport)
                )
                for result in results {
                    #expect(result.attempts == 1)
                    #expect(result.error?.kind == .rateLimited)
                    #expect(result.error?.message.contains("exceeded your current quota") == true)
                }
                #expect(summary.failed == 2 && summary.retries == 0)
            }
        }
    }

    @Test func aRequestLargerThanTheLimitFailsAtOnce() async throws {
        try await withSimulator(SimulatorConfiguration(tokensPerMinute: 100)) { server in
            try await HTTPTransport.withTransport { transport in
                let big = ChatPrompt(String(repeating: "long prompt ", count: 100))
                let (results, _) = try await runner(pacing: RateLimits()).collect(
                    [big],
                    operation: client(server, transport)
                )
                #expect(results[0].attempts == 1)
                #expect(results[0].error?.kind == .rateLimited)
                #expect(results[0].error?.message.contains("Limit 100, Requested") == true)
            }
        }
    }

    @Test func onceTheLimitIsKnownAnOversizedRequestIsNotEvenSent() async throws {
        try await withSimulator(SimulatorConfiguration(tokensPerMinute: 1000)) { server in
            try await HTTPTransport.withTransport { transport in
                let small = ChatPrompt("short")
                let big = ChatPrompt(String(repeating: "long prompt ", count: 400))
                let (results, _) = try await runner(pacing: RateLimits(probeFirst: true), concurrency: 1)
                    .collect([small, big], operation: client(server, transport))
                #expect(results[0].isSuccess)
                #expect(results[1].error?.kind == .rateLimited)
                #expect(
                    results[1].error?.message.contains("more than the whole limit of 1000 tokens per minute") == true
                )
                #expect(server.stats.snapshot().requests == 1)
            }
        }
    }

    @Test func aRetryAfterOfAnHourStopsTheBatchInsteadOfFreezingIt() async throws {
        let configuration = SimulatorConfiguration(faultRate: 1, faults: [.rateLimited], retryAfter: .seconds(3600))
        try await withSimulator(configuration) { server in
            try await HTTPTransport.withTransport { transport in
                let prompts = (1...20).map { ChatPrompt("prompt \($0)") }
                let (results, summary) = try await runner(pacing: RateLimits(maxWait: .seconds(120), probeFirst: true))
                    .collect(prompts, operation: client(server, transport))
                // The first answer said "wait an hour": nothing else was sent, nothing failed,
                // and the items are left for a rerun.
                #expect(server.stats.snapshot().requests == 1)
                #expect(summary.failed == 0)
                #expect(summary.cancelled == results.count)
                #expect(summary.succeeded == 0)
                let resume = try #require(summary.resumeAfterSeconds)
                #expect(resume > 3500 && resume <= 3600)
            }
        }
    }
}

/// Runs `body` beside a task that sleeps 20 ms at a time, and returns what `body` returned and
/// the longest the task overslept: how late a task woke while `body` ran, that is how starved
/// of CPU the machine was.
func worstOversleep<T: Sendable>(during body: () async throws -> T) async throws -> (T, Duration) {
    let watcher = Task {
        let nap = Duration.milliseconds(20)
        var worst = Duration.zero
        while !Task.isCancelled {
            let before = ContinuousClock.now
            guard (try? await Task.sleep(for: nap)) != nil else { break }
            worst = max(worst, before.duration(to: .now) - nap)
        }
        return worst
    }
    let result: T
    do {
        result = try await body()
    } catch {
        watcher.cancel()
        throw error
    }
    watcher.cancel()
    return (result, await watcher.value)
}
