import ArgumentParser
import PacerJobs

/// The `pacer` command line: the commands that run batches and the simulator. The `pacer`
/// executable adds `bench` (in PacerBench) to these.
public struct PacerCommand: AsyncParsableCommand {
    /// What `pacer` says it does.
    public static let abstract =
        "Push large batches of requests through rate-limited HTTP APIs, and never lose an item."

    /// The subcommands this module provides.
    public static let subcommands: [any ParsableCommand.Type] = [
        ChatCommand.self, BatchAPICommand.self, EmbedCommand.self, FetchCommand.self, SimulateCommand.self,
        ProbeCommand.self, DemoCommand.self, QueueCommand.self, WorkerCommand.self, ServeCommand.self,
    ]

    /// The command's name, abstract and subcommands.
    public static let configuration = CommandConfiguration(
        commandName: "pacer",
        abstract: abstract,
        subcommands: subcommands
    )

    /// Creates the command (used by swift-argument-parser).
    public init() {}

    /// Runs `pacer` with `arguments` (without the program name) and returns the exit status:
    /// 0 all items succeeded, 1 some failed, 2 bad usage or unusable input.
    ///
    /// Usage errors use status 2, not swift-argument-parser's 64, as the README promises.
    ///
    /// - Parameters:
    ///   - arguments: The arguments, without the program name.
    ///   - root: The root command to parse them with (default: this one).
    public static func main(arguments: [String], root: any ParsableCommand.Type = PacerCommand.self) async -> Int32 {
        do {
            var command = try root.parseAsRoot(arguments)
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
            let code = root.exitCode(for: error)
            if code == .success {
                // --help and --version print to stdout.
                print(root.fullMessage(for: error))
                return 0
            }
            Console.error(root.fullMessage(for: error))
            return code == .validationFailure ? 2 : code.rawValue
        }
    }
}
