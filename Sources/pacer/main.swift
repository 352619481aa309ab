import PacerCLI

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

let status = await PacerCommand.main(arguments: Array(CommandLine.arguments.dropFirst()))
exit(status)
