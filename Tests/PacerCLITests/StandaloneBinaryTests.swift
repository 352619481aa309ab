import Foundation
import Testing

/// Issue 20: the `pacer` binary copied alone to another folder (as onto a worker machine)
/// runs. On 991d846 it died at start: the price table was a resource bundle looked up beside
/// the build.
@Suite struct StandaloneBinaryTests: ScratchFolder {
    let directory: URL

    init() throws { directory = try makeScratchFolder() }

    @Test func aCopiedBinaryRunsADryRunWithTheBuiltInPrices() async throws {
        let copy = directory.appendingPathComponent("bin/pacer")
        try FileManager.default.createDirectory(
            at: copy.deletingLastPathComponent(),
            withIntermediateDirectories: true
        )
        try FileManager.default.copyItem(at: PacerProcess.binary, to: copy)
        let input = try write("in.txt", "What is Python?\nWhat is async?\n")
        let stdout = directory.appendingPathComponent("stdout.txt")
        let process = Process()
        process.executableURL = copy
        process.arguments = ["chat", input, "--dry-run", "--model", "gpt-4o-mini"]
        process.currentDirectoryURL = directory
        _ = FileManager.default.createFile(atPath: stdout.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: stdout)
        let stderr = directory.appendingPathComponent("stderr.txt")
        _ = FileManager.default.createFile(atPath: stderr.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: stderr)
        try process.run()
        process.waitUntilExit()
        let printed = try String(contentsOf: stdout, encoding: .utf8) + String(contentsOf: stderr, encoding: .utf8)
        #expect(process.terminationReason == .exit && process.terminationStatus == 0, "\(printed)")
        // The built-in table priced the model: the estimate is in dollars, not "unknown".
        #expect(printed.contains("gpt-4o-mini") && printed.contains("$"), "\(printed)")
        #expect(!printed.contains("unknown"), "\(printed)")
    }
}
