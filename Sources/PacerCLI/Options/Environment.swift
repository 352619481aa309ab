import Foundation

/// The process environment, overridable per task so that tests can run commands in-process
/// with their own `OPENAI_API_KEY` without touching the process-wide environment.
enum Environment {
    @TaskLocal static var overrides: [String: String]?

    /// The environment in effect for this task.
    static var current: [String: String] { overrides ?? ProcessInfo.processInfo.environment }
}
