import ArgumentParser
import PacerCore

/// Options shared by `pacer chat` and `pacer fetch`.
struct RunOptions: ParsableArguments {
    @Argument(help: "Input file: text lines or JSONL. '-' reads stdin.")
    var input: String = "-"

    @Option(name: .shortAndLong, help: "Write JSONL results here (default: stdout).")
    var output: String?

    @Option(help: "Input format: auto, text or jsonl.")
    var format: InputFormat = .auto

    @Option(help: "Most requests in flight at once.")
    var concurrency: Int = 8

    @Option(help: "Retries per item after its first attempt.")
    var maxRetries: Int = 5

    @Option(help: "Per-attempt timeout in seconds (default: 60 for chat, 10 for fetch).")
    var timeout: Double?

    @Option(help: "First backoff delay in seconds; doubles per retry up to --backoff-cap.")
    var backoffBase: Double = 1

    @Option(help: "Largest backoff delay in seconds.")
    var backoffCap: Double = 60

    @Option(help: "Backoff jitter: \(Jitter.names.joined(separator: ", ")).")
    var jitter: String = "full"

    @Option(help: "Seed for the jitter, for reproducible runs.")
    var seed: UInt64?

    @Flag(name: .shortAndLong, help: "Print nothing on stderr but errors.")
    var quiet = false

    @Flag(name: .shortAndLong, help: "Log every failed attempt on stderr.")
    var verbose = false

    func validate() throws {
        guard concurrency >= 1 else { throw ValidationError("--concurrency must be at least 1, got \(concurrency)") }
        guard maxRetries >= 0 else { throw ValidationError("--max-retries must be 0 or more, got \(maxRetries)") }
        if let timeout, !(timeout > 0) { throw ValidationError("--timeout must be a positive number of seconds") }
        guard backoffBase >= 0, backoffCap >= backoffBase else {
            throw ValidationError("--backoff-base must be 0 or more and not above --backoff-cap")
        }
        guard Jitter(name: jitter) != nil else {
            throw ValidationError("--jitter must be one of \(Jitter.names.joined(separator: ", ")), got '\(jitter)'")
        }
        guard !(quiet && verbose) else { throw ValidationError("--quiet and --verbose cannot be used together") }
    }

    /// The engine configuration these options describe.
    func batchConfiguration(defaultTimeout: Double) -> BatchConfiguration {
        BatchConfiguration(
            maxConcurrent: concurrency,
            attemptTimeout: .pacerSeconds(timeout ?? defaultTimeout),
            retry: RetryPolicy(
                maxRetries: maxRetries,
                backoff: Backoff(
                    base: .pacerSeconds(backoffBase),
                    multiplier: 2,
                    cap: .pacerSeconds(backoffCap),
                    jitter: Jitter(name: jitter) ?? .full
                )
            )
        )
    }
}

extension InputFormat: ExpressibleByArgument {}
