import Foundation
import Testing

@testable import PacerCLI

/// What the CLI test suites share: a fresh folder per test for input and output files, and
/// `pacer` run in process with an environment of the test's own.
protocol ScratchFolder {
    /// This test's folder.
    var directory: URL { get }
}

/// A new, empty folder in this test process's folder of them.
func makeScratchFolder() throws -> URL {
    let url = scratchRoot.appendingPathComponent(UUID().uuidString)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// This test process's folder of scratch folders, `pacer-tests-PID` under the temporary
/// directory. Made on first use, after removing those of test processes that are gone: a run
/// leaves one folder behind, and the next removes it (a folder per test, never removed, left
/// tens of thousands in /tmp).
private let scratchRoot: URL = {
    let temporary = FileManager.default.temporaryDirectory
    let prefix = "pacer-tests-"
    for name in (try? FileManager.default.contentsOfDirectory(atPath: temporary.path)) ?? [] {
        guard name.hasPrefix(prefix), let pid = Int32(name.dropFirst(prefix.count)), pid != getpid() else { continue }
        // Gone: no such process (a process of another user answers EPERM and is kept).
        guard kill(pid, 0) != 0, errno == ESRCH else { continue }
        try? FileManager.default.removeItem(at: temporary.appendingPathComponent(name))
    }
    return temporary.appendingPathComponent(prefix + String(getpid()))
}()

extension ScratchFolder {
    /// The path of `name` in the folder.
    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Writes `contents` to `name` in the folder and returns its path.
    func write(_ name: String, _ contents: String) throws -> String {
        try Data(contents.utf8).write(to: URL(fileURLWithPath: path(name)))
        return path(name)
    }

    /// Every line of a JSONL file parsed as a JSON object; fails the test on a line that is not
    /// one (a torn last line included).
    func lines(_ file: String) throws -> [[String: Any]] {
        try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            .dropLast().map {
                try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any], "not JSON: \($0)")
            }
    }

    /// Runs `pacer arguments…` in process with `environment` as its whole environment.
    func pacer(_ arguments: [String], environment: [String: String] = [:]) async -> Int32 {
        await Environment.$overrides.withValue(environment) { await PacerCommand.main(arguments: arguments) }
    }
}
