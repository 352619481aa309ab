import Foundation
import PacerCLI
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A process started with `posix_spawn` and reaped with `wait4`, so that the benchmark gets
/// the child's own resource usage (CPU time, peak RSS) and nothing else's.
///
/// Foundation's `Process` reaps its children itself and does not report their usage.
struct ChildProcess: Sendable {
    /// How a child ended and what it used.
    struct Ending: Sendable {
        /// The exit status, or 128 + the signal that ended it.
        var status: Int32
        /// User plus system CPU time, in seconds.
        var cpuSeconds: Double
        /// Peak resident set size, in bytes.
        var peakRSSBytes: Int
    }

    /// The child's process id.
    let pid: pid_t

    /// The running `pacer` binary, for starting another `pacer` (a simulator, a client).
    static var pacerExecutable: String {
        #if os(Linux)
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return path }
        #endif
        return Bundle.main.executablePath ?? CommandLine.arguments[0]
    }

    /// Starts `executable arguments…` with stdin, stdout and stderr from and to the given
    /// descriptors (or /dev/null).
    static func spawn(
        _ executable: String,
        _ arguments: [String],
        stdin: Int32? = nil,
        stdout: Int32? = nil,
        stderr: Int32? = nil
    ) throws -> ChildProcess {
        #if os(Linux)
        var actions = posix_spawn_file_actions_t()
        #else
        var actions: posix_spawn_file_actions_t?
        #endif
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let stdin {
            posix_spawn_file_actions_adddup2(&actions, stdin, 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        for (source, target) in [(stdout, Int32(1)), (stderr, Int32(2))] {
            if let source {
                posix_spawn_file_actions_adddup2(&actions, source, target)
            } else {
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", O_WRONLY, 0)
            }
        }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        guard result == 0 else {
            throw BenchError("could not start \(executable): \(String(cString: strerror(result)))")
        }
        return ChildProcess(pid: pid)
    }

    /// Sends `signal` to the child.
    func send(_ signal: Int32) { kill(pid, signal) }

    /// Waits for the child to end (on a thread of its own: `wait4` blocks) and returns its usage.
    ///
    /// On Linux the peak RSS is read from `/proc/PID/status` (`VmHWM`) every 20 ms while the
    /// child runs: `wait4`'s `ru_maxrss` is useless here, because `posix_spawn` starts the
    /// child in the parent's memory (vfork) and Linux carries that memory's high-water mark
    /// into the child's at `exec`, so it reports the benchmark's own peak when that is higher.
    func wait() async -> Ending {
        let pid = self.pid
        let finished = Atomic<Bool>(false)
        let sampledPeak = Atomic<Int>(0)
        #if os(Linux)
        Thread.detachNewThread {
            while !finished.load(ordering: .acquiring) {
                if let peak = Self.highWaterMark(of: pid) { sampledPeak.store(peak, ordering: .releasing) }
                usleep(20_000)
            }
        }
        #endif
        return await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                var status: Int32 = 0
                var usage = rusage()
                while wait4(pid, &status, 0, &usage) == -1 && errno == EINTR {}
                finished.store(true, ordering: .releasing)
                let signalled = status & 0x7f
                let code = signalled == 0 ? (status >> 8) & 0xff : 128 + signalled
                let cpu =
                    Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
                    + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
                #if os(Linux)
                let peak = sampledPeak.load(ordering: .acquiring)
                #else
                let peak = Int(usage.ru_maxrss)  // bytes on Darwin, where posix_spawn does not share memory
                #endif
                continuation.resume(returning: Ending(status: code, cpuSeconds: cpu, peakRSSBytes: peak))
            }
        }
    }

    /// The port a `pacer` child says it listens on: the digits after `marker` in its `log`,
    /// waited for up to 10 s.
    static func port(after marker: String, in log: URL, of what: String) async throws -> Int {
        for _ in 0..<200 {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            if let range = text.range(of: marker) {
                let digits = text[range.upperBound...].prefix { $0.isNumber }
                if let port = Int(digits) { return port }
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw BenchError("\(what) did not start within 10 s; its log: \(log.path)")
    }

    /// `VmHWM` of a running process, in bytes.
    private static func highWaterMark(of pid: pid_t) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
            let kilobytes = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        else { return nil }
        return kilobytes * 1024
    }
}

/// This process's CPU time so far (user plus system, all threads), in seconds.
func processCPUSeconds() -> Double {
    var usage = rusage()
    #if os(Linux)
    getrusage(RUSAGE_SELF.rawValue, &usage)
    #else
    getrusage(RUSAGE_SELF, &usage)
    #endif
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
}

/// A benchmark could not run; the message says why.
struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
