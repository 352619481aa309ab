import Foundation
import PacerTesting
import Testing

/// `pacer serve` refuses at startup what it cannot serve safely or at all, with exit 2 and
/// the flag named, before it binds or touches the data folder. Run as the built binary.
@Suite struct ServeCommandTests: ScratchFolder {
    let directory: URL

    init() throws { directory = try makeScratchFolder() }

    @Test(arguments: [
        (["--host", "0.0.0.0"], "--client-keys"),
        (["--host", "192.168.1.5"], "--client-keys"),
        (["--port", "70000"], "--port"),
        (["--rpm", "inf"], "--rpm"),
        (["--tpm", "nan"], "--tpm"),
        (["--concurrency", "0"], "--concurrency"),
        (["--max-retries", "9223372036854775807"], "--max-retries"),
        (["input.jsonl"], "POST /v1/files"),
        (["--output", "out.jsonl"], "POST /v1/files"),
        (["--dry-run"], "--dry-run"),
        (["--ordered"], "--ordered"),
        (["--client-keys", "/no/such/keys.txt"], "keys.txt"),
    ])
    func whatItCannotServeExitsTwoNamingTheFlag(arguments: [String], named: String) async throws {
        let data = directory.appendingPathComponent("data-\(UUID().uuidString)")
        let command = ["serve", "--port", "0", "--data", data.path, "--base-url", "http://127.0.0.1:9/v1"] + arguments
        let (status, stderr) = try await PacerProcess(
            command,
            stderrFile: directory.appendingPathComponent("stderr-\(UUID().uuidString).txt")
        ).run()
        #expect(status == 2, "\(arguments): \(stderr)")
        #expect(stderr.contains(named), "\(arguments): \(stderr)")
        #expect(!FileManager.default.fileExists(atPath: data.path), "\(arguments) made the data folder")
    }
}
