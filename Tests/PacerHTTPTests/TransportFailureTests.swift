import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import NIOSSL
import PacerCore
import PacerHTTP
import PacerSimulator
import PacerTesting
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Issue 9, defect 6: only transient transport errors are retried.
@Suite struct TransportFailureTests {
    /// An error this classification has never heard of.
    struct Unheard: Error {}

    @Test(arguments: [
        HTTPClientError.invalidHeaderFieldNames(["X Api"]),
        .invalidHeaderFieldValues(["k\r\n"]),
        .unsupportedScheme("ftp"),
        .redirectLimitReached,
        .redirectCycleDetected,
        .invalidURL,
        .traceRequestWithBody,
    ])
    func errorsThatCannotPassAreTriedOnce(_ error: HTTPClientError) {
        let classified = HTTPFailure.error(classifying: error)
        #expect(classified.isRetryable == false, "\(classified)")
    }

    @Test func anErrorNobodyKnowsIsPermanent() {
        #expect(HTTPFailure.error(classifying: Unheard()).isRetryable == false)
    }

    @Test func anInvalidHeaderNameIsBadInput() {
        let classified = HTTPFailure.error(classifying: HTTPClientError.invalidHeaderFieldNames(["X Api"]))
        #expect(classified.kind == .invalidInput)
        #expect(classified.message.contains("invalid header name"))
    }

    @Test(arguments: [
        HTTPFailure.error(classifying: HTTPClientError.remoteConnectionClosed),
        HTTPFailure.error(classifying: HTTPClientError.readTimeout),
        HTTPFailure.error(classifying: HTTPClientError.uncleanShutdown),
        HTTPFailure.error(classifying: HTTPClientError.tlsHandshakeTimeout),
        HTTPFailure.error(classifying: IOError(errnoCode: ECONNRESET, reason: "read")),
        HTTPFailure.error(classifying: IOError(errnoCode: ECONNREFUSED, reason: "connect")),
        HTTPFailure.error(classifying: IOError(errnoCode: ENETUNREACH, reason: "connect")),
        HTTPFailure.error(classifying: ChannelError.ioOnClosedChannel),
        HTTPFailure.error(classifying: ChannelError.eof),
        HTTPFailure.error(classifying: NIOSSLError.uncleanShutdown),
    ])
    func transientErrorsAreRetried(_ classified: ItemError) {
        #expect(classified.isRetryable, "\(classified)")
    }

    @Test func aSocketErrorOutsideTheAllowListIsPermanent() {
        #expect(HTTPFailure.error(classifying: IOError(errnoCode: EACCES, reason: "connect")).isRetryable == false)
    }

    /// The engine counts an attempt as a connection failure (toward the circuit breaker) when its
    /// kind is `network`: a connect timeout is one.
    @Test(arguments: [HTTPClientError.connectTimeout as any Error, ChannelError.connectTimeout(.seconds(3))])
    func aConnectTimeoutIsARetryableNetworkError(_ error: any Error) {
        let classified = HTTPFailure.error(classifying: error)
        #expect(classified.kind == .network)
        #expect(classified.isRetryable)
        #expect(classified.message.hasPrefix("could not connect"), "\(classified.message)")
    }

    @Test func aRefusedConnectionNamesTheAddressAndIsRetried() async throws {
        // Bind a simulator, note its port, stop it: nothing listens there any more.
        let port = try await withSimulator { $0.port }
        try await HTTPTransport.withTransport { transport in
            let error = await #expect(throws: ItemError.self) {
                try await transport.send(HTTPRequestSpec(url: "http://127.0.0.1:\(port)/posts/1"))
            }
            #expect(error?.kind == .network)
            #expect(error?.isRetryable == true)
            #expect(error?.message == "connection refused by 127.0.0.1:\(port)")
        }
    }

    /// A per-item header whose name AsyncHTTPClient refuses: one attempt, nothing sent.
    @Test func anInvalidHeaderNameFailsAtOnceWithoutARequest() async throws {
        try await withSimulator { server in
            try await HTTPTransport.withTransport { transport in
                let runner = BatchRunner(
                    configuration: BatchConfiguration(
                        maxConcurrent: 2,
                        attemptTimeout: .seconds(5),
                        retry: RetryPolicy(
                            maxRetries: 3,
                            backoff: Backoff(base: .milliseconds(1), cap: .milliseconds(5))
                        )
                    ),
                    random: .seeded(1)
                )
                let request = FetchRequest(url: server.postURL(1), headers: ["X Api": "k"])
                let (results, _) = try await runner.collect([request], operation: URLFetcher(transport: transport))
                #expect(results[0].attempts == 1)
                #expect(results[0].error?.kind == .invalidInput)
                #expect(
                    results[0].error?.message.contains("'X Api'") == true,
                    "\(String(describing: results[0].error))"
                )
                #expect(server.stats.snapshot().requests == 0)
            }
        }
    }
}

@Suite struct HTTPHeaderNameTests {
    @Test(arguments: ["X-Api-Key", "authorization", "x_y", "a!#$%&'*+-.^_`|~9"])
    func tokensAreNames(_ name: String) {
        #expect(HTTPHeaderName.isValid(name))
    }

    @Test(arguments: ["", "X Api", "X:Api", "Ünicode", "tab\there", "(paren)", "quote\"", "semi;colon"])
    func othersAreNot(_ name: String) {
        #expect(!HTTPHeaderName.isValid(name))
    }

    @Test func valuesMayNotBreakTheLine() {
        #expect(HTTPHeaderName.isValidValue("Bearer sk-1 \t é"))
        #expect(!HTTPHeaderName.isValidValue("a\r\nX-Injected: 1"))
        #expect(!HTTPHeaderName.isValidValue("nul\u{0}"))
    }
}

extension TransportFailureTests {
    @Test func aTruncatedAnswerIsRetriedButGarbageIsNot() {
        #expect(HTTPFailure.error(classifying: HTTPParserError.invalidEOFState).isRetryable)
        #expect(HTTPFailure.error(classifying: HTTPParserError.invalidVersion).isRetryable == false)
    }
}
