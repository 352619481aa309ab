import Foundation
import PacerSimulator
import PacerTesting
import Testing

@testable import PacerCLI

#if canImport(Glibc)
import Glibc
#endif

/// Issue 9, defects 12 and 6 at the command line: HTTPS to a server with a private CA, and
/// mistakes that no retry can fix caught before the batch starts. These run the built binary.
@Suite struct HTTPSCommandTests: ScratchFolder {
    let directory: URL
    let certificate: TestCertificate

    /// The test machine's own `SSL_CERT_FILE`/`SSL_CERT_DIR` must not decide the outcome.
    let cleanEnvironment = ["SSL_CERT_FILE": "", "SSL_CERT_DIR": ""]

    init() throws {
        directory = try makeScratchFolder()
        certificate = try TestCertificate.selfSigned()
    }

    /// Runs `pacer` as a process; returns its status, its stderr and its output lines.
    func run(
        _ arguments: [String],
        environment: [String: String] = [:],
        output: String
    ) async throws -> (Int32, String, [[String: Any]]) {
        let process = try PacerProcess(
            arguments + ["-o", output],
            environment: cleanEnvironment.merging(environment) { $1 },
            stderrFile: directory.appendingPathComponent("stderr-\(UUID().uuidString).txt")
        )
        let (status, stderr) = try await process.run()
        let written = FileManager.default.fileExists(atPath: output) ? try lines(output) : []
        return (status, stderr, written)
    }

    @Test func fetchOverHTTPSSucceedsWithCACertAndFailsAtOnceWithout() async throws {
        let ca = try write("ca.pem", certificate.certificatePEM)
        try await withSimulator(SimulatorConfiguration(tls: certificate.simulatorTLS())) { server in
            let input = try write("urls.txt", (1...3).map { server.postURL($0) }.joined(separator: "\n") + "\n")

            let (trusted, trustedErrors, good) = try await run(
                ["fetch", input, "--ca-cert", ca, "-q"],
                output: path("good.jsonl")
            )
            #expect(trusted == 0, "\(trustedErrors)")
            #expect(
                good.count == 3 && good.allSatisfy { $0["success"] as? Bool == true && $0["attempts"] as? Int == 1 }
            )

            let requestsSoFar = server.stats.snapshot().requests
            let (untrusted, stderr, bad) = try await run(["fetch", input, "-q"], output: path("bad.jsonl"))
            #expect(untrusted == 1, "\(stderr)")
            #expect(bad.count == 3)
            for line in bad {
                let error = try #require(line["error"] as? [String: Any])
                #expect(line["success"] as? Bool == false)
                #expect(line["attempts"] as? Int == 1, "retried a certificate that cannot become trusted")
                #expect(error["kind"] as? String == "network")
                #expect(
                    error["message"] as? String
                        == "certificate for 127.0.0.1 not trusted: pass --ca-cert FILE (the CA that signed it), or name it in SSL_CERT_FILE"
                )
            }
            #expect(!stderr.contains(".cc:"), "BoringSSL's internals leaked: \(stderr)")
            #expect(server.stats.snapshot().requests == requestsSoFar)
        }
    }

    /// Issue 20: when every item fails on an untrusted certificate, the summary says why (on
    /// 991d846 it said "0/3 successful, 3 failed", and the reason was only in the output lines).
    @Test func theSummaryNamesTheMostCommonReasonItemsFailed() async throws {
        try await withSimulator(SimulatorConfiguration(tls: certificate.simulatorTLS())) { server in
            let input = try write("urls.txt", (1...3).map { server.postURL($0) }.joined(separator: "\n") + "\n")
            let (status, stderr, written) = try await run(["fetch", input], output: path("bad.jsonl"))
            #expect(status == 1, "\(stderr)")
            #expect(written.count == 3)
            #expect(stderr.contains("Failed because:"), "\(stderr)")
            #expect(stderr.contains("  3 × network: certificate for 127.0.0.1 not trusted"), "\(stderr)")
        }
        let summaryPath = path("summary.json")
        try await withSimulator { server in
            let input = try write(
                "urls2.txt",
                [server.postURL(1), server.postURL(4040), server.postURL(4040)].joined(separator: "\n") + "\n"
            )
            let (status, stderr, _) = try await run(
                ["fetch", input, "-q", "--summary-json", summaryPath],
                output: path("mixed.jsonl")
            )
            #expect(status == 1, "\(stderr)")
        }
        let summary = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: summaryPath)))
                as? [String: Any]
        )
        let reasons = try #require(summary["failureReasons"] as? [[String: Any]])
        #expect(reasons.count == 1)
        #expect(reasons.first?["kind"] as? String == "http_status")
        #expect(reasons.first?["status"] as? Int == 404)
        #expect(reasons.first?["count"] as? Int == 2)
    }

    @Test func chatOverHTTPSWithCACert() async throws {
        let ca = try write("ca.pem", certificate.certificatePEM)
        let input = try write("prompts.txt", "one\ntwo\n")
        try await withSimulator(SimulatorConfiguration(tls: certificate.simulatorTLS())) { server in
            let (status, stderr, written) = try await run(
                ["chat", input, "--base-url", server.baseURL, "--ca-cert", ca, "-q"],
                output: path("out.jsonl")
            )
            #expect(status == 0, "\(stderr)")
            #expect(written.count == 2 && written.allSatisfy { $0["success"] as? Bool == true })
        }
    }

    @Test func sslCertFileIsHonoured() async throws {
        let bundle = try write("bundle.pem", certificate.certificatePEM)
        try await withSimulator(SimulatorConfiguration(tls: certificate.simulatorTLS())) { server in
            let input = try write("urls.txt", server.postURL(1) + "\n")
            let (status, stderr, written) = try await run(
                ["fetch", input, "-q"],
                environment: ["SSL_CERT_FILE": bundle],
                output: path("out.jsonl")
            )
            #expect(status == 0, "\(stderr)")
            #expect(written.first?["success"] as? Bool == true)
        }
    }

    @Test func aMissingCACertFileIsABadUsageNamingIt() async throws {
        let input = try write("urls.txt", "https://127.0.0.1:9/posts/1\n")
        let missing = path("no-such-ca.pem")
        let (status, stderr, written) = try await run(
            ["fetch", input, "--ca-cert", missing, "-q"],
            output: path("out.jsonl")
        )
        #expect(status == 2)
        #expect(stderr.contains("--ca-cert") && stderr.contains(missing), "\(stderr)")
        #expect(written.isEmpty)
        let (envStatus, envStderr, _) = try await run(
            ["fetch", input, "-q"],
            environment: ["SSL_CERT_FILE": missing],
            output: path("out2.jsonl")
        )
        #expect(envStatus == 2)
        #expect(envStderr.contains("SSL_CERT_FILE"), "\(envStderr)")
    }

    /// Defect 6: `--header 'X Api: k'` made six attempts per item, each reported as a network error.
    @Test func anInvalidHeaderNameIsABadUsageNamingTheFlagButNotTheValue() async throws {
        let input = try write("urls.txt", "http://127.0.0.1:9/posts/1\n")
        let secret = "sk-header-secret-0123456789"
        let (status, stderr, written) = try await run(
            ["fetch", input, "--header", "X Api: \(secret)"],
            output: path("out.jsonl")
        )
        #expect(status == 2)
        #expect(stderr.contains("--header") && stderr.contains("X Api"), "\(stderr)")
        #expect(!stderr.contains(secret))
        #expect(written.isEmpty)
    }

    @Test(arguments: [
        ["fetch", "-", "--header", "X Api: k"],
        ["fetch", "-", "--header", "(x): k"],
        ["fetch", "-", "--header", ": k"],
        ["simulate", "--tls-cert", "/no/such/cert.pem"],
        ["simulate", "--tls-cert", "/no/such/cert.pem", "--tls-key", "/no/such/key.pem"],
    ])
    func badUsageExitsTwo(arguments: [String]) async {
        #expect(await pacer(arguments) == 2)
    }

    /// `pacer simulate --tls-cert --tls-key` serves HTTPS. Its port comes from a simulator that
    /// was bound and stopped; fetch retries the refused connection until the server listens.
    @Test func simulateServesHTTPSFromCertificateFiles() async throws {
        let ca = try write("cert.pem", certificate.certificatePEM)
        let key = try write("key.pem", certificate.privateKeyPEM)
        let port = try await withSimulator { $0.port }
        let bannerFile = directory.appendingPathComponent("simulate.txt")
        let simulator = try PacerProcess(
            ["simulate", "--port", "\(port)", "--tls-cert", ca, "--tls-key", key],
            stderrFile: bannerFile
        )
        try simulator.process.run()
        defer {
            send(SIGINT, to: simulator.pid)
            simulator.process.waitUntilExit()
        }
        let input = try write("urls.txt", "https://127.0.0.1:\(port)/posts/1\n")
        let fetch = [
            "fetch", input, "--ca-cert", ca, "-q", "--max-retries", "60", "--backoff-base", "0.05", "--backoff-cap",
            "0.2", "--retry-budget", "off",
        ]
        let (status, stderr, written) = try await run(fetch, output: path("out.jsonl"))
        let banner = try String(contentsOf: bannerFile, encoding: .utf8)
        #expect(status == 0, "\(stderr)")
        #expect(written.first?["success"] as? Bool == true)
        #expect(banner.contains("listening on https://127.0.0.1:\(port)"), "\(banner)")
    }
}
