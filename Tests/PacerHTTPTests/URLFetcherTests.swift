import PacerCore
import PacerHTTP
import PacerJSON
import PacerSimulator
import PacerTesting
import Testing

@Suite struct URLFetcherTests {
    func runner(concurrency: Int = 5, retries: Int = 8, timeout: Duration = .seconds(5)) -> BatchRunner<ContinuousClock>
    {
        BatchRunner(
            configuration: BatchConfiguration(
                maxConcurrent: concurrency,
                attemptTimeout: timeout,
                retry: RetryPolicy(
                    maxRetries: retries,
                    backoff: Backoff(base: .milliseconds(5), cap: .milliseconds(50))
                ),
                // Half the requests fail in some of these tests: more retries than a budget allows.
                retryBudget: nil
            ),
            random: .seeded(1)
        )
    }

    @Test func fetchesJSONWithTheReferenceFields() async throws {
        try await withSimulator { server in
            try await HTTPTransport.withTransport { transport in
                let requests = (1...10).map { FetchRequest(url: server.postURL($0)) }
                let (results, summary) = try await runner().collect(
                    requests,
                    operation: URLFetcher(transport: transport)
                )
                #expect(summary.succeeded == 10)
                for (offset, result) in results.enumerated() {
                    let output = try #require(result.output)
                    #expect(output.status == 200)
                    #expect(output.url == server.postURL(offset + 1))
                    #expect(output.data["id"] == .number(JSONNumber(offset + 1)))
                    #expect(result.attempts == 1)
                }
            }
        }
    }

    @Test func a404IsPermanentAndTriedOnce() async throws {
        try await withSimulator { server in
            try await HTTPTransport.withTransport { transport in
                let (results, _) = try await runner().collect(
                    [FetchRequest(url: server.postURL(5000))],
                    operation: URLFetcher(transport: transport)
                )
                #expect(results[0].error?.kind == .httpStatus)
                #expect(results[0].error?.status == 404)
                #expect(results[0].attempts == 1)
                #expect(server.stats.snapshot().byItem["posts/5000"] == 1)
            }
        }
    }

    @Test func aRefusedConnectionIsANetworkErrorAndRetried() async throws {
        // Bind a simulator, note its port, stop it: nothing listens there any more.
        let port = try await withSimulator { $0.port }
        try await HTTPTransport.withTransport { transport in
            let (results, _) = try await runner(retries: 2).collect(
                [FetchRequest(url: "http://127.0.0.1:\(port)/posts/1")],
                operation: URLFetcher(transport: transport)
            )
            #expect(results[0].error?.kind == .network)
            #expect(results[0].attempts == 3)
        }
    }

    @Test(arguments: [Fault.serverError, .unavailable, .rateLimited, .drop, .truncate, .malformed])
    func transientFaultsAreRetriedUntilSuccess(_ fault: Fault) async throws {
        let configuration = SimulatorConfiguration(
            faultRate: 0.5,
            faults: [fault],
            seed: 3,
            retryAfter: .milliseconds(10)
        )
        try await withSimulator(configuration) { server in
            try await HTTPTransport.withTransport { transport in
                let requests = (1...20).map { FetchRequest(url: server.postURL($0)) }
                // Half the answers are faults: with 8 retries an item fails one time in 512, and
                // which item meets which draw depends on timing; 20 retries make that 1 in 2^21.
                let (results, summary) = try await runner(retries: 20).collect(
                    requests,
                    operation: URLFetcher(transport: transport)
                )
                #expect(summary.succeeded == 20, "\(results.compactMap(\.error))")
                #expect(summary.retries > 0)
                let stats = server.stats.snapshot()
                // Every retry the client made is a fault the server injected, and no item was asked for
                // more often than its attempts.
                #expect(stats.requests == 20 + summary.retries)
                for (offset, result) in results.enumerated() {
                    #expect(stats.byItem["posts/\(offset + 1)"] == result.attempts)
                }
            }
        }
    }

    @Test func slowResponsesTimeOutAndAreRetried() async throws {
        // A timeout of 1.5 s against answers of 0 s or 10 s: with the whole suite running on two
        // cores, a 0.3 s timeout also caught answers that were merely late.
        let configuration = SimulatorConfiguration(faultRate: 0.4, faults: [.slow], seed: 5, slowDelay: .seconds(10))
        try await withSimulator(configuration) { server in
            try await HTTPTransport.withTransport { transport in
                let requests = (1...10).map { FetchRequest(url: server.postURL($0)) }
                let (results, summary) = try await runner(concurrency: 10, timeout: .milliseconds(1500))
                    .collect(requests, operation: URLFetcher(transport: transport))
                #expect(summary.succeeded == 10)
                let timeouts = results.flatMap(\.attemptErrors).filter { $0.kind == .timeout }
                #expect(!timeouts.isEmpty)
                #expect(timeouts.count == summary.retries)
            }
        }
    }

    /// The attempt's deadline covers the whole body: a server that sends the headers and half
    /// the body and then stalls is timed out too. (The bound is far below the stall and far
    /// above the timeout: the whole suite runs in parallel on two cores, and at its start a
    /// fresh-clone CI run once took 8.5 s for this 0.3 s timeout.)
    @Test func aBodyThatStallsTimesOut() async throws {
        let configuration = SimulatorConfiguration(faultRate: 1, faults: [.stall], slowDelay: .seconds(30))
        try await withSimulator(configuration) { server in
            try await HTTPTransport.withTransport { transport in
                let start = ContinuousClock.now
                let (results, _) = try await runner(retries: 0, timeout: .milliseconds(300))
                    .collect([FetchRequest(url: server.postURL(1))], operation: URLFetcher(transport: transport))
                #expect(start.duration(to: .now) < .seconds(20))
                #expect(results[0].error == ItemError.timedOut(after: .milliseconds(300)))
            }
        }
    }

    @Test func a429CarriesTheServersRetryAfter() async throws {
        let configuration = SimulatorConfiguration(
            faultRate: 1,
            faults: [.rateLimited],
            retryAfter: .milliseconds(1500)
        )
        try await withSimulator(configuration) { server in
            try await HTTPTransport.withTransport { transport in
                let error = await #expect(throws: ItemError.self) {
                    try await URLFetcher(transport: transport).attempt(
                        BatchItem(index: 0, id: "1", input: FetchRequest(url: server.postURL(1))),
                        attempt: 1
                    )
                }
                #expect(error?.kind == .rateLimited)
                #expect(error?.status == 429)
                #expect(error?.isRetryable == true)
                #expect(error?.retryAfter == .milliseconds(1500))
            }
        }
    }

    @Test func aURLThatIsNotHTTPIsAnInputError() async throws {
        try await HTTPTransport.withTransport { transport in
            let (results, _) = try await runner().collect(
                [FetchRequest(url: "ftp://example.com/x")],
                operation: URLFetcher(transport: transport)
            )
            #expect(results[0].error?.kind == .invalidInput)
            #expect(results[0].attempts == 1)
        }
    }
}
