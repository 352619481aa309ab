import ArgumentParser
import PacerBench
import PacerCLI

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `pacer`: the batch commands of PacerCLI, and `bench` from PacerBench.
struct Pacer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pacer",
        abstract: PacerCommand.abstract,
        subcommands: PacerCommand.subcommands + [BenchCommand.self]
    )
}

let status = await PacerCommand.main(arguments: Array(CommandLine.arguments.dropFirst()), root: Pacer.self)
exit(status)
