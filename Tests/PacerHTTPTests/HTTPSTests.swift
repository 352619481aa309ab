import AsyncHTTPClient
import Foundation
import PacerCore
import PacerHTTP
import PacerSimulator
import PacerTesting
import Testing

/// Issue 9, defect 12: HTTPS to a server whose CA only the user knows.
@Suite struct HTTPSTests {
    let certificate: TestCertificate
    let directory: URL

    init() throws {
        certificate = try TestCertificate.selfSigned()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("pacer-https-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func file(_ name: String, _ contents: String) throws -> String {
        let path = directory.appendingPathComponent(name).path
        try Data(contents.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    func runner(retries: Int = 3) -> BatchRunner<ContinuousClock> {
        BatchRunner(
            configuration: BatchConfiguration(
                maxConcurrent: 2,
                attemptTimeout: .seconds(5),
                retry: RetryPolicy(maxRetries: retries, backoff: Backoff(base: .milliseconds(1), cap: .milliseconds(5)))
            ),
            random: .seeded(1)
        )
    }

    func fetch(
        _ server: Simulator.Running,
        trusting roots: TrustRoots,
        count: Int = 3
    ) async throws -> [ItemResult<FetchResult>] {
        try await HTTPTransport.withTransport(configuration: .init(trustRoots: roots)) { transport in
            let requests = (1...count).map { FetchRequest(url: server.postURL($0)) }
            return try await runner().collect(requests, operation: URLFetcher(transport: transport)).results
        }
    }

    @Test func theSimulatorServesHTTPSWithTheCertificateItIsGiven() async throws {
        try await withSimulator(SimulatorConfiguration(tls: certificate.simulatorTLS())) { server in
            #expect(server.baseURL.hasPrefix("https://127.0.0.1:"))
            let results = try await fetch(server, trusting: .system.adding(pem: certificate.certificatePEM))
            #expect(results.allSatisfy { $0.output?.status == 200 }, "\(results.compactMap(\.error))")
        }
    }

    @Test func aCAFileAddedToTheRootsIsTrusted() async throws {
        let path = try file("ca.pem", certificate.certificatePEM)
        try await withSimulator(SimulatorConfiguration(tls: certificate.simulatorTLS())) { server in
            let results = try await fetch(server, trusting: .system.adding(pemFile: path))
            #expect(results.allSatisfy { $0.output?.status == 200 }, "\(results.compactMap(\.error))")
        }
    }

    @Test func sslCertFileIsHonouredAsCurlAndHttpxDo() async throws {
        let path = try file("bundle.pem", certificate.certificatePEM)
        try await withSimulator(SimulatorConfiguration(tls: certificate.simulatorTLS())) { server in
            let results = try await fetch(server, trusting: .environment(["SSL_CERT_FILE": path]))
            #expect(results.allSatisfy { $0.output?.status == 200 }, "\(results.compactMap(\.error))")
        }
    }

    /// Without its CA, every item fails on its first attempt, with a sentence a person can act
    /// on and none of BoringSSL's internals.
    @Test func anUntrustedCertificateFailsAtOnceAndSaysWhatToDo() async throws {
        try await withSimulator(SimulatorConfiguration(tls: certificate.simulatorTLS())) { server in
            let results = try await fetch(server, trusting: .system)
            for result in results {
                let error = try #require(result.error)
                #expect(result.attempts == 1)
                #expect(error.isRetryable == false)
                #expect(error.kind == .network)
                #expect(error.message.hasPrefix("certificate for 127.0.0.1 not trusted: "), "\(error.message)")
                #expect(!error.message.contains(".cc") && !error.message.contains("error:"), "\(error.message)")
            }
            // The handshake failed: no request reached the server.
            #expect(server.stats.snapshot().requests == 0)
        }
    }

    @Test func aCertificateForAnotherHostIsRefusedAtOnce() async throws {
        let other = try TestCertificate.selfSigned(hosts: ["example.test"])
        try await withSimulator(SimulatorConfiguration(tls: other.simulatorTLS())) { server in
            let results = try await fetch(server, trusting: .system.adding(pem: other.certificatePEM), count: 1)
            let error = try #require(results[0].error)
            #expect(results[0].attempts == 1)
            #expect(error.isRetryable == false)
            #expect(error.message.contains("127.0.0.1"), "\(error.message)")
        }
    }

    @Test func anUnusableCAFileIsAnErrorWhenTheRootsAreMade() throws {
        let missing = directory.appendingPathComponent("missing.pem").path
        #expect(throws: TrustRootsError(path: missing, message: "no such file")) {
            try TrustRoots.system.adding(pemFile: missing)
        }
        let notPEM = try file("not.pem", "hello\n")
        #expect(throws: TrustRootsError.self) { try TrustRoots.system.adding(pemFile: notPEM) }
        #expect(throws: TrustRootsError(path: missing, variable: "SSL_CERT_FILE", message: "no such file")) {
            try TrustRoots.environment(["SSL_CERT_FILE": missing])
        }
        #expect(throws: TrustRootsError.self) { try TrustRoots.environment(["SSL_CERT_DIR": missing]) }
        #expect(try TrustRoots.environment(["SSL_CERT_FILE": "", "PATH": "/bin"]) == .system)
    }
}

/// Issue 9, defect 10 (the transport's part): a transport can borrow the app's client.
@Suite struct TransportOwnershipTests {
    @Test func aBorrowedClientIsNotShutDownWithTheTransport() async throws {
        try await withSimulator { server in
            let client = HTTPClient(eventLoopGroupProvider: .singleton)
            let first = HTTPTransport(client: client)
            #expect(try await first.send(HTTPRequestSpec(url: server.postURL(1))).status == 200)
            try await first.shutdown()
            // The client still works: a second transport (or the app itself) can go on using it.
            let second = HTTPTransport(client: client)
            #expect(try await second.send(HTTPRequestSpec(url: server.postURL(2))).status == 200)
            try await client.shutdown()
        }
    }

    @Test func theSharedClientCanBeUsedAndIsLeftAlone() async throws {
        try await withSimulator { server in
            // HTTPClient.shared throws if anyone tries to shut it down.
            let transport = HTTPTransport(client: .shared, configuration: .init(maxBodyBytes: 1 << 20))
            let (results, _) = try await BatchRunner(
                configuration: BatchConfiguration(maxConcurrent: 2, attemptTimeout: .seconds(5))
            )
            .collect((1...3).map { FetchRequest(url: server.postURL($0)) }, operation: URLFetcher(transport: transport))
            #expect(results.allSatisfy { $0.output?.status == 200 })
            try await transport.shutdown()
        }
    }

    @Test func anOwnedClientIsShutDown() async throws {
        let transport = HTTPTransport()
        try await transport.shutdown()
        let error = await #expect(throws: ItemError.self) {
            try await transport.send(HTTPRequestSpec(url: "http://127.0.0.1:9/"))
        }
        #expect(error?.isRetryable == false)
    }
}
