import ArgumentParser
import Foundation
import Logging
import PacerCore
import PacerHTTP
import PacerJobs
import PacerOpenAI
import PacerPostgres
import PacerServe
import ServiceLifecycle
import UnixSignals

/// `pacer serve`: OpenAI's Files and Batches APIs in front of any OpenAI-compatible server,
/// until Ctrl-C.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve OpenAI's Files and Batches APIs, running batches against any OpenAI-compatible server.",
        discussion: """
            Serves, under /v1, what openai-python's client.files and client.batches call: \
            POST /v1/files (multipart, purpose=batch; at most 200 MB and 50,000 lines, checked as \
            the upload streams), GET /v1/files, GET /v1/files/{id}, GET /v1/files/{id}/content, \
            DELETE /v1/files/{id}; POST /v1/batches (input_file_id, endpoint, completion_window \
            such as 24h, metadata), GET /v1/batches, GET /v1/batches/{id} and POST \
            /v1/batches/{id}/cancel. Each batch runs against --base-url (key from \
            OPENAI_API_KEY) as pacer batch runs a file, at the pace the flags and the server's \
            headers set; several batches at once share one quota, request by request in the \
            order they ask. Files and batches are kept in --data: a server started again on the \
            same folder goes on where it stopped, each custom_id once. Clients send \
            'Authorization: Bearer KEY'; each key sees only what it created (another key's is \
            404, no key is 401). The first Ctrl-C lets requests in flight finish (--grace) and \
            leaves the batches to the next start.
            """
    )

    @Option(help: "Address to bind. Any address other than loopback needs --client-keys.")
    var host: String = "127.0.0.1"

    @Option(help: "Port to listen on; 0 picks a free one.")
    var port: Int = 8090

    @Option(help: "The data folder (default: $XDG_DATA_HOME/pacer, else ~/.local/share/pacer).")
    var data: String?

    @Option(
        help: ArgumentHelp(
            "Admit only these keys: a file with one key per line, optionally followed by a name.",
            valueName: "file"
        )
    )
    var clientKeys: String?

    @Option(
        name: .customLong("db"),
        help: ArgumentHelp(
            "Put batches in the queue in this PostgreSQL database (postgres://USER@HOST:5432/DATABASE; password from PGPASSWORD) for pacer workers to send, here or on other machines: pacer worker --db URL --batch '*' --follow. The server then only accepts, reports and serves files; the sending flags go to the workers.",
            valueName: "url"
        )
    )
    var database: String?

    @OptionGroup var run: RunOptions

    @OptionGroup var api: APIOptions

    @OptionGroup var cacheOptions: CacheOptions

    @OptionGroup var routesOptions: RoutesOptions

    func validate() throws {
        guard (0...65_535).contains(port) else { throw ValidationError("--port must be from 0 to 65535.") }
        if database != nil, cacheOptions.cache != nil || routesOptions.routes != nil {
            throw ValidationError(
                "with --db the workers send the requests: give --cache and --routes to pacer worker instead"
            )
        }
        try routesOptions.validate(with: run, tpm: api.tpm)
        if clientKeys == nil, !ServeConfiguration.isLoopback(host) {
            throw ValidationError(
                "--host \(host) lets other machines in: give --client-keys FILE to say which keys they may use."
            )
        }
        guard run.input == "-", run.output == nil else {
            throw ValidationError("pacer serve takes its inputs through POST /v1/files; drop the input and --output")
        }
        guard !run.ordered, !run.skipInvalid, run.resume, !run.retryFailed, run.format == .auto,
            run.outputFormat == .pacer, run.summaryJSON == nil
        else {
            throw ValidationError(
                "--ordered, --skip-invalid, --no-resume, --retry-failed, --format, --output-format and --summary-json apply to files, not to pacer serve"
            )
        }
        guard !api.dryRun, api.maxCost == nil else {
            throw ValidationError("--dry-run and --max-cost apply to pacer batch, not to pacer serve")
        }
    }

    func run() async throws {
        let keys: ClientKeys?
        do {
            keys = try clientKeys.map(ClientKeys.load(path:))
        } catch let error as ClientKeysError {
            throw ValidationError(error.message)
        }
        let folder = data.map { URL(fileURLWithPath: $0, isDirectory: true) } ?? ServeConfiguration.defaultDataFolder
        let configuration = ServeConfiguration(host: host, port: port, dataFolder: folder, clientKeys: keys)
        let environment = Environment.current
        if let database {
            let url: DatabaseURL
            do {
                url = try DatabaseURL(database, environment: environment)
            } catch {
                throw InputError(file: "--db", message: "\(error)")
            }
            try await QueueDatabase.withDatabase(url) { queue in
                try await serve(
                    configuration,
                    backend: .queue(queue),
                    logger: run.runSettings(BatchConfiguration()).logger
                ) {
                    "putting batches in the queue at \(url) for pacer worker --db URL --batch '*'"
                }
            }
            return
        }
        try await cacheOptions.withCache(run) { try await serveUpstream(configuration, cache: $0) }
    }

    /// Serves batches sent upstream (by this process) with `cache`.
    private func serveUpstream(_ configuration: ServeConfiguration, cache: ResponseCache?) async throws {
        let environment = Environment.current
        var clientConfiguration = APIClient.Configuration(
            access: try api.access(run: run, environment: environment, keyOptional: routesOptions.routes != nil),
            pricing: try api.pricing()
        )
        clientConfiguration.cache = cache
        let transportConfiguration = try run.transportConfiguration(environment: environment)
        // As pacer batch: learn the limits from one request before sending a wave.
        let engine = run.batchConfiguration(defaultTimeout: 60, tpm: api.tpm, probeFirst: true)
        let base = clientConfiguration.access.baseURL
        try await HTTPTransport.withTransport(configuration: transportConfiguration) { transport in
            if let routes = try routesOptions.client(
                run: run,
                environment: environment,
                transport: transport,
                client: clientConfiguration
            ) {
                let engine = RoutesOptions.engine(run, concurrency: routes.concurrency)
                let settings = run.runSettings(engine)
                let names = routes.client.router.deployments.map(\.name).joined(separator: ", ")
                try await routes.run(engine: engine, options: run).sharing(run) { quota in
                    let upstream = Upstream(sender: .routed(routes.client), run: settings, quota: quota)
                    try await serve(configuration, backend: .upstream(upstream), logger: settings.logger) {
                        "running batches over the deployments \(names)"
                    }
                }
                return
            }
            let settings = run.runSettings(engine)
            try await SharedQuotaOption.with(run, configuration: engine) { quota in
                let upstream = Upstream(
                    client: APIClient(configuration: clientConfiguration, transport: transport),
                    run: settings,
                    quota: quota
                )
                try await serve(configuration, backend: .upstream(upstream), logger: settings.logger) {
                    "running batches against \(base)"
                }
            }
        }
    }

    /// Runs the server until SIGINT or SIGTERM, saying where it listens and what it does.
    private func serve(
        _ configuration: ServeConfiguration,
        backend: BatchBackend,
        logger: Logger,
        doing: @escaping @Sendable () -> String
    ) async throws {
        let folder = configuration.dataFolder
        let server: BatchServer
        do {
            server = try BatchServer(configuration: configuration, backend: backend, logger: logger)
        } catch {
            throw ValidationError("\(folder.path): cannot use it as the data folder (\(error.localizedDescription)).")
        }
        let (host, keys) = (configuration.host, configuration.clientKeys)
        try await server.serviceGroup(signals: [.sigterm, .sigint]) { port in
            let address = host.contains(":") ? "[\(host)]" : host
            Console.error(
                "pacer serve listening on http://\(address):\(port)/v1, \(doing()) (data in \(folder.path)); "
                    + (keys.map { "admitting \($0.names.count) client keys" }
                        ?? "any key, each seeing its own files and batches")
            )
        }
        .run()
    }
}
