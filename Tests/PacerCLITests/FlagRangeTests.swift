import Foundation
import PacerTesting
import Testing

/// Issue 20: every numeric flag is checked finite and in range at startup. On 991d846
/// `--tpm inf`, `--timeout inf`, `--deadline inf` and `embed --tpm 1e30` killed the process
/// with SIGILL (exit 132), even with `--dry-run`, and `--rpm inf`, `--grace inf` and
/// `--max-wait inf` were accepted. Run as the built binary, so that a trap fails the test
/// instead of taking the runner down.
@Suite struct FlagRangeTests: ScratchFolder {
    let directory: URL

    init() throws { directory = try makeScratchFolder() }

    @Test(arguments: [
        (["chat", "--tpm", "inf"], "--tpm"),
        (["chat", "--tpm", "nan"], "--tpm"),
        (["chat", "--rpm", "inf"], "--rpm"),
        (["chat", "--rpm", "nan"], "--rpm"),
        (["chat", "--timeout", "inf"], "--timeout"),
        (["chat", "--timeout", "nan"], "--timeout"),
        (["chat", "--deadline", "inf"], "--deadline"),
        (["chat", "--deadline", "nan"], "--deadline"),
        (["chat", "--grace", "inf"], "--grace"),
        (["chat", "--grace", "nan"], "--grace"),
        (["chat", "--max-wait", "inf"], "--max-wait"),
        (["chat", "--max-wait", "nan"], "--max-wait"),
        (["chat", "--backoff-base", "nan"], "--backoff-base"),
        (["chat", "--backoff-cap", "inf"], "--backoff-cap"),
        (["chat", "--max-cost", "inf"], "--max-cost"),
        (["chat", "--price-in", "nan", "--price-out", "1"], "--price-in"),
        (["chat", "--temperature", "nan"], "--temperature"),
        (["chat", "--stream", "--idle-timeout", "inf"], "--idle-timeout"),
        (["chat", "--stream", "--first-token-timeout", "nan"], "--first-token-timeout"),
        (["chat", "--max-tokens", "9223372036854775807"], "--max-tokens"),
        (["chat", "--ordered", "--ordered-window", "9223372036854775807"], "--ordered-window"),
        (["chat", "--max-retries", "9223372036854775807"], "--max-retries"),
        (["embed", "--tpm", "1e30"], "--tpm"),
        (["embed", "--dimensions", "9223372036854775807"], "--dimensions"),
        (["batch", "--timeout", "inf"], "--timeout"),
        (["fetch", "--deadline", "inf"], "--deadline"),
        (["worker", "--heartbeat", "inf", "--db", "postgres://u@127.0.0.1:1/x", "--batch", "b"], "--heartbeat"),
        (
            ["worker", "--flush-interval", "nan", "--db", "postgres://u@127.0.0.1:1/x", "--batch", "b"],
            "--flush-interval"
        ),
    ])
    func aNumberNoRunCanUseExitsTwoNamingTheFlag(arguments: [String], flag: String) async throws {
        let input = try write("in.txt", "hello\n")
        var command = [arguments[0]]
        if arguments[0] != "worker" { command.append(input) }
        command +=
            Array(arguments.dropFirst())
            + ["--dry-run"].filter { _ in ["chat", "embed", "batch"].contains(arguments[0]) }
        let (status, stderr) = try await PacerProcess(
            command,
            stderrFile: directory.appendingPathComponent("stderr-\(UUID().uuidString).txt")
        ).run()
        #expect(status == 2, "\(command): \(stderr)")
        #expect(stderr.contains(flag), "\(command): \(stderr)")
    }
}
