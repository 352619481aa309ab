import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The `pacer` binary built next to the test bundle, run as a separate process.
struct PacerProcess {
    static var binary: URL {
        // The test runner lives in the build products folder, as does `pacer`.
        let folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [folder, folder.deletingLastPathComponent()] {
            let url = candidate.appendingPathComponent("pacer")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        return folder.appendingPathComponent("pacer")
    }

    let process = Process()
    let stderrFile: URL

    /// Prepares `pacer arguments…`; stderr goes to a file (a pipe could fill and block it);
    /// stdin reads `stdinPipe` (the test writes lines as it goes), `stdinFile`, or nothing.
    init(
        _ arguments: [String],
        environment: [String: String] = [:],
        stderrFile: URL,
        stdoutFile: URL? = nil,
        stdinFile: URL? = nil,
        stdinPipe: Pipe? = nil
    ) throws {
        self.stderrFile = stderrFile
        _ = FileManager.default.createFile(atPath: stderrFile.path, contents: nil)
        process.executableURL = Self.binary
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        if let stdoutFile {
            _ = FileManager.default.createFile(atPath: stdoutFile.path, contents: nil)
            process.standardOutput = try FileHandle(forWritingTo: stdoutFile)
        } else {
            process.standardOutput = FileHandle.nullDevice
        }
        process.standardError = try FileHandle(forWritingTo: stderrFile)
        if let stdinPipe {
            process.standardInput = stdinPipe
        } else {
            process.standardInput = try stdinFile.map { try FileHandle(forReadingFrom: $0) } ?? FileHandle.nullDevice
        }
    }

    var pid: Int32 { process.processIdentifier }

    /// Starts the process and waits for it; returns its exit status (or 128 + signal) and stderr.
    func run() async throws -> (status: Int32, stderr: String) {
        let ended: Void = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { _ in continuation.resume() }
            do {
                try process.run()
            } catch {
                continuation.resume(throwing: error)
            }
        }
        _ = ended
        let errorText = (try? String(contentsOf: stderrFile, encoding: .utf8)) ?? ""
        let status =
            process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
        return (status, errorText)
    }
}

/// Sends `signal` to a process.
func send(_ signal: Int32, to pid: Int32) {
    kill(pid, signal)
}
