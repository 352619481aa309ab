import Foundation
import PacerCLI

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `pacer simulate` in a process of its own, so that a benchmark measures the client's CPU
/// and memory without the server's.
struct SimulatorProcess {
    /// The simulator's process.
    let child: ChildProcess
    /// The loopback port it listens on.
    let port: Int

    /// `http://127.0.0.1:PORT`.
    var rootURL: String { "http://127.0.0.1:\(port)" }

    /// Starts `pacer simulate --port 0 arguments…`, runs `body` with it, and stops it with SIGTERM.
    static func withRunning<T>(
        _ arguments: [String] = [],
        _ body: (SimulatorProcess) async throws -> T
    ) async throws -> T {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("pacer-bench-simulator-\(getpid()).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: log) }
        let handle = try FileHandle(forWritingTo: log)
        defer { try? handle.close() }
        let child = try ChildProcess.spawn(
            ChildProcess.pacerExecutable,
            ["simulate", "--port", "0"] + arguments,
            stderr: handle.fileDescriptor
        )
        let simulator: SimulatorProcess
        do {
            simulator = SimulatorProcess(
                child: child,
                port: try await ChildProcess.port(after: "listening on http://127.0.0.1:", in: log, of: "the simulator")
            )
        } catch {
            child.send(SIGKILL)
            _ = await child.wait()
            throw error
        }
        let result: Result<T, any Error>
        do {
            result = .success(try await body(simulator))
        } catch {
            result = .failure(error)
        }
        child.send(SIGTERM)
        _ = await child.wait()
        return try result.get()
    }
}
