import ArgumentParser
import PacerCore
import PacerHTTP
import PacerJobs
import PacerOpenAI
import PacerPostgres
import UnixSignals

/// `pacer worker`: drains a batch that `pacer queue push` loaded, beside any number of other
/// workers on any machines.
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run a batch from PostgreSQL, beside any number of other workers on any machines.",
        discussion: """
            The worker claims chunks of the batch (FOR UPDATE SKIP LOCKED: workers never wait for \
            each other nor get the same chunk), runs their items as pacer batch runs a file's \
            lines (the same flags: --base-url, --concurrency, --rpm, --tpm, --max-retries, …), and \
            stores each result as the line pacer batch writes, once per item whatever happens. It \
            heartbeats, and returns the chunks of workers whose heartbeat stopped. It exits 0 once \
            the batch is done: nothing pending and nothing held by another worker (it waits for \
            those: a live worker may give them back, a silent one's come back after --reap-after) \
            and its results are stored; --follow waits for more. It sends an item only while its \
            chunk is its own (a worker frozen past --reap-after drops what it had not sent), and \
            stops with exit 2 if the batch is dropped while it runs. A server asking for a wait \
            longer than --max-wait ends it with exit 1, its unfinished chunks given back, saying \
            when to run it again. Ctrl-C lets requests in flight finish (--grace) and gives the \
            rest back. If the \
            database goes away, the worker keeps its results, waits, and carries on when it is back. \
            --quota postgres://…?quota=NAME (or PACER_QUOTA_URL) paces every worker against one \
            shared limit; --metrics-port serves the worker's metrics. --batch '*' serves whichever \
            batch has work, one after another, oldest first (the batches pacer serve --db puts \
            in the queue); with --follow it waits for new ones.
            """
    )

    @OptionGroup var database: DatabaseOptions

    @OptionGroup var run: RunOptions

    @OptionGroup var api: APIOptions

    @OptionGroup var cacheOptions: CacheOptions

    @OptionGroup var routesOptions: RoutesOptions

    @Flag(help: "When nothing is left to claim, wait for more (pushed later, or given back) instead of exiting.")
    var follow = false

    @Option(help: "Seconds between heartbeats; the reaper runs with them.")
    var heartbeat: Double = 5

    @Option(
        help: """
            Seconds without a heartbeat after which a worker counts as gone and its chunks go back \
            (this worker's own setting, if longer, protects it). A worker sends an item only while \
            the database confirmed its chunks less than half of this ago.
            """
    )
    var reapAfter: Double = 30

    @Option(
        help:
            "With --follow: seconds between looks for new work (pushes and given-back chunks wake the worker at once)."
    )
    var poll: Double = 10

    @Option(help: "Longest seconds a finished result waits before it is stored (results are stored in batches).")
    var flushInterval: Double = 0.5

    func validate() throws {
        guard run.input == "-" else {
            throw ValidationError(
                "pacer worker reads its items from the database; drop '\(run.input)' (push it with pacer queue push)"
            )
        }
        guard run.output == nil else {
            throw ValidationError(
                "pacer worker stores results in the database; write them with pacer queue export -o FILE"
            )
        }
        guard !run.ordered, !run.skipInvalid, run.resume, run.outputFormat == .pacer, run.format == .auto else {
            throw ValidationError(
                "--ordered, --skip-invalid, --no-resume, --format and --output-format apply to files, not to pacer worker"
            )
        }
        guard !api.dryRun, api.maxCost == nil else {
            throw ValidationError("--dry-run and --max-cost apply to pacer batch, not to pacer worker")
        }
        for (name, value) in [("--heartbeat", heartbeat), ("--reap-after", reapAfter), ("--poll", poll)] {
            try NumberCheck.seconds(value, name, limit: 86_400)
        }
        try NumberCheck.seconds(flushInterval, "--flush-interval", zeroAllowed: true, limit: 3_600)
        try routesOptions.validate(with: run, tpm: api.tpm)
        guard reapAfter > heartbeat else {
            throw ValidationError(
                "--reap-after must be longer than --heartbeat (a live worker would be taken for dead)"
            )
        }
    }

    /// The timing these flags describe.
    var timing: WorkerTiming {
        var timing = WorkerTiming()
        timing.heartbeat = .pacerSeconds(heartbeat)
        timing.reapAfter = .pacerSeconds(reapAfter)
        timing.poll = .pacerSeconds(poll)
        timing.flushInterval = .pacerSeconds(flushInterval)
        return timing
    }

    func run() async throws {
        throw try await cacheOptions.withCache(run) { try await work(cache: $0) }
    }

    /// Works with `cache`; returns the exit status.
    private func work(cache: ResponseCache?) async throws -> ExitCode {
        let environment = Environment.current
        let url = try database.databaseURL(environment: environment)
        var clientConfiguration = APIClient.Configuration(
            access: try api.access(run: run, environment: environment, keyOptional: routesOptions.routes != nil),
            pricing: try api.pricing()
        )
        clientConfiguration.cache = cache
        let transportConfiguration = try run.transportConfiguration(environment: environment)
        return try await HTTPTransport.withTransport(configuration: transportConfiguration) { transport in
            // As pacer batch: learn the limits from one request before sending a wave.
            var configuration = run.batchConfiguration(defaultTimeout: 60, tpm: api.tpm, probeFirst: true)
            var sender = APISender.direct(APIClient(configuration: clientConfiguration, transport: transport))
            var routedRun: RoutedRun?
            if let routes = try routesOptions.client(
                run: run,
                environment: environment,
                transport: transport,
                client: clientConfiguration
            ) {
                sender = .routed(routes.client)
                configuration = RoutesOptions.engine(run, concurrency: routes.concurrency)
                routedRun = routes.run(engine: configuration, options: run)
            }
            var job = WorkerJob(
                options: run,
                configuration: configuration,
                operation: sender,
                url: url,
                batch: database.batch,
                timing: timing,
                follow: follow
            )
            job.routes = routedRun
            return database.batch == Self.anyBatch ? try await anyBatch(job) : try await job.run()
        }
    }

    /// `--batch '*'`: whichever batch has work (`pacer serve --db` puts one in the queue per
    /// batch created through its API).
    static let anyBatch = "*"

    /// Serves one batch after another, the one with unclaimed work and oldest first, until none
    /// has work left (with `--follow`, until Ctrl-C); stops at the first run that does not end
    /// well (an interrupt, a claim error, a wait longer than `--max-wait`) with its status.
    private func anyBatch(_ template: WorkerJob) async throws -> ExitCode {
        while true {
            let next = try await DatabaseErrors.readable(template.url) {
                try await QueueDatabase.withDatabase(template.url) { database in
                    try await BatchQueue.nextBatchWithWork(in: database)
                }
            }
            guard let batch = next else {
                guard follow else { return .success }
                // Ctrl-C while waiting for a batch ends the worker as it would end a run.
                if try await Self.interruptedWhileWaiting(timing.poll) { return ExitCode(130) }
                continue
            }
            var job = template
            job.batch = batch
            job.follow = false
            job.counters = BatchProgress()
            let status = try await job.run()
            guard status == .success else { return status }
        }
    }

    /// Waits `duration`; `true` when SIGINT or SIGTERM came first.
    private static func interruptedWhileWaiting(_ duration: Duration) async throws -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                for await _ in await UnixSignalsSequence(trapping: .sigint, .sigterm) { return true }
                return false
            }
            group.addTask {
                try? await Task.sleep(for: duration)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }
}
