import ArgumentParser
import PacerCore
import PacerJobs

/// Options shared by `pacer chat` and `pacer fetch`.
package struct RunOptions: ParsableArguments {
    /// Options at their defaults (swift-argument-parser fills them in when parsing).
    package init() {}

    @Argument(help: "Input file: text lines or JSONL. '-' reads stdin.")
    var input: String = "-"

    @Option(name: .shortAndLong, help: "Write JSONL results here (default: stdout).")
    var output: String?

    @Option(help: "Input format: auto, text, jsonl or batch (OpenAI Batch API input lines).")
    var format: InputFormat = .auto

    @Option(help: "Output lines: pacer (one JSON object per item) or batch (OpenAI Batch API output lines; chat only).")
    var outputFormat: OutputFormat = .pacer

    @Option(
        name: .customLong("header"),
        help:
            "A header for every request, as 'Name: value' (a gateway's, OpenRouter's). Repeatable; a value whose name speaks of a key, token or auth is kept out of every message."
    )
    var headers: [String] = []

    @Option(help: "Read the API key from this file instead of OPENAI_API_KEY.")
    var apiKeyFile: String?

    @Option(
        name: .customLong("concurrency"),
        help:
            "Most requests in flight at once, or 'auto': find the count past which the server only queues, and follow it (for self-hosted servers; within --min-concurrency and --max-concurrency)."
    )
    var concurrencySetting: String = "8"

    @Option(help: "With --concurrency auto: the fewest requests in flight.")
    var minConcurrency: Int = 1

    @Option(help: "With --concurrency auto: the most requests in flight.")
    var maxConcurrency: Int = 64

    /// Whether `--concurrency auto` was given.
    var adaptiveConcurrency: Bool { concurrencySetting.lowercased() == "auto" }

    /// The most requests in flight: the fixed `--concurrency`, or `--max-concurrency` with `auto`.
    var concurrency: Int { adaptiveConcurrency ? maxConcurrency : Int(concurrencySetting) ?? 8 }

    @Option(help: "Retries per item after its first attempt.")
    var maxRetries: Int = 5

    @Option(help: "Per-attempt timeout in seconds (default: 60 for chat, 10 for fetch).")
    var timeout: Double?

    @Option(
        help:
            "Per-item deadline in seconds: all attempts and the waits between them, from the first attempt (default: none)."
    )
    var deadline: Double?

    @Option(help: "First backoff delay in seconds; doubles per retry up to --backoff-cap.")
    var backoffBase: Double = 1

    @Option(help: "Largest backoff delay in seconds.")
    var backoffCap: Double = 60

    @Option(help: "Requests per minute to pace at (default: the server's x-ratelimit-limit-requests, if it sends one).")
    var rpm: Double?

    @Option(
        help: ArgumentHelp(
            "Share one rate limit with every process that names this quota: postgres://USER@HOST/DB?quota=NAME.",
            discussion:
                "Default: PACER_QUOTA_URL, if set; for pacer worker, quota 'default' in the queue's database. "
                + "With --routes, each deployment's limits are shared, as quota NAME/DEPLOYMENT. "
                + "'off': pace alone. The database's password may come from PGPASSWORD."
        )
    )
    var quota: String?

    @Option(
        name: .customLong("wait-for-db"),
        help: ArgumentHelp(
            "With --quota or --cache postgres://…: how long to wait at the start for its database when it cannot be reached, before giving up, in seconds (0: until Ctrl-C).",
            valueName: "seconds"
        )
    )
    var waitForDatabase: Double = 30

    @Option(
        help: "Longest server-requested wait (Retry-After) to sit through, in seconds; a longer one stops the batch."
    )
    var maxWait: Double = 120

    @Option(help: "Retries allowed as a share of requests (plus 10 a second); 'off' for no cap.")
    var retryBudget: String = "0.2"

    @Option(help: "Backoff jitter: \(Jitter.names.joined(separator: ", ")).")
    var jitter: String = "full"

    @Option(help: "Seed for the jitter, for reproducible runs.")
    var seed: UInt64?

    @Flag(
        inversion: .prefixedNo,
        help:
            "Continue an existing --output: skip the ids already in it. --no-resume refuses to touch a non-empty file."
    )
    var resume = true

    @Flag(
        help:
            "With resume: redo the ids whose line in --output is a failure (the newer line wins when the file is read)."
    )
    var retryFailed = false

    @Flag(
        help:
            "Write a line that cannot be parsed as that item's invalid_input failure (id: its line number) and go on, instead of stopping with status 2."
    )
    var skipInvalid = false

    @Flag(
        help:
            "Write results in input order (as vllm run-batch does). A finished result waits for those before it; at most --ordered-window of them are held, and admission waits when the oldest unfinished item is that far behind."
    )
    var ordered = false

    @Option(
        help:
            "With --ordered: the most results held while an earlier one is unfinished. They are paid for and not yet written: a crash or a second Ctrl-C loses up to this many, and the rerun pays for them again."
    )
    var orderedWindow: Int = 1024

    @Option(name: .customLong("summary-json"), help: "Write the summary as JSON to this file.")
    var summaryJSON: String?

    @Option(
        name: .customLong("ca-cert"),
        help:
            "Trust the CA certificates in this PEM file for HTTPS, besides the system's (or those SSL_CERT_FILE/SSL_CERT_DIR name)."
    )
    var caCert: String?

    @Option(help: "After Ctrl-C (or SIGTERM), seconds to let requests in flight finish before cancelling them.")
    var grace: Double = 10

    @Flag(name: .shortAndLong, help: "Print nothing on stderr but errors.")
    var quiet = false

    @OptionGroup(title: "Metrics") var metrics: MetricsOptions

    @Flag(name: .shortAndLong, help: "Log every failed attempt on stderr.")
    var verbose = false

    package func validate() throws {
        for header in headers { try Self.check(header) }
        guard orderedWindow >= 1 else { throw ValidationError("--ordered-window must be at least 1") }
        guard adaptiveConcurrency || (Int(concurrencySetting) ?? 0) >= 1 else {
            throw ValidationError("--concurrency must be a number of at least 1 or 'auto', got '\(concurrencySetting)'")
        }
        guard minConcurrency >= 1, maxConcurrency >= minConcurrency else {
            throw ValidationError("--min-concurrency must be at least 1 and not above --max-concurrency")
        }
        try NumberCheck.within(maxRetries, "--max-retries", 0...10_000)
        try NumberCheck.within(orderedWindow, "--ordered-window", 1...1_000_000)
        try NumberCheck.within(maxConcurrency, "--max-concurrency", 1...100_000)
        if !adaptiveConcurrency { try NumberCheck.within(Int(concurrencySetting), "--concurrency", 1...100_000) }
        try NumberCheck.seconds(timeout, "--timeout")
        try NumberCheck.seconds(deadline, "--deadline")
        try NumberCheck.seconds(backoffBase, "--backoff-base", zeroAllowed: true)
        try NumberCheck.seconds(backoffCap, "--backoff-cap", zeroAllowed: true)
        guard backoffCap >= backoffBase else { throw ValidationError("--backoff-base must not be above --backoff-cap") }
        guard Jitter(name: jitter) != nil else {
            throw ValidationError("--jitter must be one of \(Jitter.names.joined(separator: ", ")), got '\(jitter)'")
        }
        guard !(quiet && verbose) else { throw ValidationError("--quiet and --verbose cannot be used together") }
        try NumberCheck.rate(rpm, "--rpm")
        try NumberCheck.seconds(maxWait, "--max-wait", zeroAllowed: true)
        try NumberCheck.seconds(grace, "--grace", zeroAllowed: true)
        try NumberCheck.seconds(waitForDatabase, "--wait-for-db", zeroAllowed: true, limit: 86_400)
        if retryFailed, !resume {
            throw ValidationError("--retry-failed continues an output file; it cannot be used with --no-resume")
        }
        guard retryBudget == "off" || Double(retryBudget).map({ (0...10).contains($0) }) == true else {
            throw ValidationError("--retry-budget must be a share such as 0.2, or 'off', got '\(retryBudget)'")
        }
    }

    /// How a run of these options sends its items: `engine`, `--grace`, `--seed`, and the
    /// log level of `--quiet` and `--verbose`.
    func runSettings(_ engine: BatchConfiguration) -> RunSettings {
        var settings = RunSettings(engine: engine)
        settings.grace = .pacerSeconds(grace)
        settings.seed = seed
        settings.logger = Console.logger(quiet: quiet, verbose: verbose)
        return settings
    }

    /// The engine configuration these options describe.
    ///
    /// - Parameters:
    ///   - defaultTimeout: The per-attempt timeout when `--timeout` is not given.
    ///   - tpm: Tokens per minute (chat), if given.
    ///   - probeFirst: Send one request alone until the server's limits are known.
    package func batchConfiguration(
        defaultTimeout: Double,
        tpm: Double? = nil,
        probeFirst: Bool = false
    ) -> BatchConfiguration {
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
            ),
            pacing: RateLimits(
                requestsPerMinute: rpm,
                tokensPerMinute: tpm,
                maxWait: .pacerSeconds(maxWait),
                probeFirst: probeFirst
            ),
            retryBudget: Double(retryBudget).map { RetryBudget(ratio: $0) },
            itemDeadline: deadline.map { .pacerSeconds($0) },
            adaptiveConcurrency: adaptiveConcurrency
                ? AdaptiveConcurrency.Configuration(
                    initial: min(4, maxConcurrency),
                    minimum: minConcurrency,
                    maximum: maxConcurrency
                ) : nil
        )
    }
}

extension InputFormat: ExpressibleByArgument {}
extension OutputFormat: ExpressibleByArgument {}
