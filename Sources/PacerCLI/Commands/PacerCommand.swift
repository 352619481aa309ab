import ArgumentParser

/// The `pacer` command line.
public struct PacerCommand: AsyncParsableCommand {
    /// The command's name, abstract and subcommands.
    public static let configuration = CommandConfiguration(
        commandName: "pacer",
        abstract: "Push large batches of requests through rate-limited HTTP APIs, and never lose an item.",
        subcommands: [ChatCommand.self, FetchCommand.self, SimulateCommand.self, DemoCommand.self, BenchCommand.self]
    )

    /// Creates the command (used by swift-argument-parser).
    public init() {}

    /// Runs `pacer` with `arguments` (without the program name) and returns the exit status:
    /// 0 all items succeeded, 1 some failed, 2 bad usage or unusable input.
    ///
    /// Usage errors use status 2, not swift-argument-parser's 64, as DESIGN.md promises.
    public static func main(arguments: [String]) async -> Int32 {
        do {
            var command = try parseAsRoot(arguments)
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
            return 0
        } catch let error as ExitCode {
            return error.rawValue
        } catch let error as InputError {
            Console.error("error: \(error)")
            return 2
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                // --help and --version print to stdout.
                print(fullMessage(for: error))
                return 0
            }
            Console.error(fullMessage(for: error))
            return code == .validationFailure ? 2 : code.rawValue
        }
    }
}
