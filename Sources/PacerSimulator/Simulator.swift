import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import PacerCore
import PacerOpenAI
import ServiceLifecycle

/// An OpenAI-compatible and JSON-placeholder-like HTTP server for demos, tests and benchmarks.
///
/// Endpoints: `POST /v1/chat/completions` (streamed with Server-Sent Events when asked, see
/// ``SimulatorConfiguration/llamaQuirks`` and ``SimulatorConfiguration/streamTokenLatency``),
/// and the others an OpenAI Batch API file can
/// name: `POST /v1/embeddings`, `POST /v1/completions` (legacy), `POST /v1/responses` and
/// `POST /v1/moderations`; `GET /v1/models`, `GET /posts/{id}` (ids `1...postCount`, 404
/// otherwise) and `GET /stats` (with a per-endpoint breakdown). Every `POST` endpoint answers
/// deterministically from its inputs and shares the rate limits, latency, faults, API-key
/// check and quota switch of the ``SimulatorConfiguration``.
///
/// ```swift
/// try await Simulator.withRunning(SimulatorConfiguration(latency: .milliseconds(50))) { server in
///     print(server.baseURL)  // http://127.0.0.1:PORT/v1
/// }
/// ```
public struct Simulator: Sendable {
    /// How the server behaves.
    public let configuration: SimulatorConfiguration
    /// What it has served so far.
    public let stats: SimulatorStats
    let random: RandomSource
    let limiter: SimulatorLimiter
    /// The slots, when the simulator plays a self-hosted server.
    let slots: SlotPool?
    /// The streams running now (llama.cpp's quirk cuts the oldest).
    let streams = RunningStreams()
    let logger: Logger

    /// Creates a simulator (not yet listening).
    ///
    /// - Parameters:
    ///   - configuration: How the server behaves.
    ///   - logger: Where Hummingbird logs (default: nowhere).
    public init(
        configuration: SimulatorConfiguration = SimulatorConfiguration(),
        logger: Logger = Logger(label: "pacer.simulator", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        self.configuration = configuration
        self.stats = SimulatorStats()
        self.random = configuration.seed.map(RandomSource.seeded) ?? .system
        self.slots = configuration.slots.map(SlotPool.init)
        self.limiter = SimulatorLimiter(
            rpm: configuration.requestsPerMinute,
            tpm: configuration.tokensPerMinute,
            window: configuration.limitWindow
        )
        self.logger = logger
    }

    /// A running simulator's address and counters.
    public struct Running: Sendable {
        /// The port it listens on.
        public let port: Int
        /// Its counters.
        public let stats: SimulatorStats
        /// The host it listens on.
        public let host: String
        /// `https` when it serves TLS (``SimulatorConfiguration/tls``), else `http`.
        public let scheme: String

        /// `SCHEME://HOST:PORT`.
        public var rootURL: String { "\(scheme)://\(host):\(port)" }
        /// The OpenAI-style API root, `SCHEME://HOST:PORT/v1`.
        public var baseURL: String { rootURL + "/v1" }
        /// The URL of post `id`.
        public func postURL(_ id: Int) -> String { "\(rootURL)/posts/\(id)" }
    }

    /// Builds the Hummingbird application.
    ///
    /// - Parameter onReady: Called with the bound port once the server listens.
    /// - Throws: When the TLS settings cannot be used.
    public func makeApplication(
        onReady: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws -> some ApplicationProtocol {
        let router = Router(context: SimulatorContext.self)
        addRoutes(to: router)
        var server = HTTPServerBuilder.http1()
        if let tls = configuration.tls {
            server = try .tls(.http1(), tlsConfiguration: tls.serverConfiguration)
        }
        return Application(
            router: router,
            server: server,
            configuration: .init(
                address: .hostname(configuration.host, port: configuration.port),
                serverName: "pacer-simulator"
            ),
            onServerRunning: { channel in await onReady(channel.localAddress?.port ?? 0) },
            logger: logger
        )
    }

    /// Starts the server, runs `body` with its address, then stops the server.
    public static func withRunning<T: Sendable>(
        _ configuration: SimulatorConfiguration = SimulatorConfiguration(),
        logger: Logger = Logger(label: "pacer.simulator", factory: { _ in SwiftLogNoOpLogHandler() }),
        _ body: (Running) async throws -> T
    ) async throws -> T {
        let simulator = Simulator(configuration: configuration, logger: logger)
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let application = try simulator.makeApplication { port in
            portContinuation.yield(port)
            portContinuation.finish()
        }
        let services = ServiceGroup(configuration: .init(services: [application], logger: logger))
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                defer { portContinuation.finish() }
                try await services.run()
            }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else {
                // The server stopped before it listened: surface its error.
                try await group.next()
                throw SimulatorError(
                    message: "the simulator could not start on \(configuration.host):\(configuration.port)"
                )
            }
            let result: Result<T, any Error>
            do {
                let running = Running(
                    port: port,
                    stats: simulator.stats,
                    host: configuration.host,
                    scheme: configuration.tls == nil ? "http" : "https"
                )
                result = .success(try await body(running))
            } catch {
                result = .failure(error)
            }
            // Stop gracefully (cancelling the server outright can tear down a connection NIO has
            // just accepted, which NIO treats as a fatal error); if that takes over 5 s, cancel.
            await services.triggerGracefulShutdown()
            group.addTask {
                try await Task.sleep(for: .seconds(5))
                throw CancellationError()
            }
            do {
                _ = try await group.next()
            } catch {}
            group.cancelAll()
            return try result.get()
        }
    }

    /// The API endpoints served under `/v1/`, by path.
    typealias Handler = @Sendable (Simulator, Request, SimulatorContext) async throws -> Response
    static let endpoints: [(path: String, handler: Handler)] = [
        ("chat/completions", { try await $0.chatCompletion($1, context: $2) }),
        ("embeddings", { try await $0.embeddings($1, context: $2) }),
        ("completions", { try await $0.completions($1, context: $2) }),
        ("responses", { try await $0.responses($1, context: $2) }),
        ("moderations", { try await $0.moderations($1, context: $2) }),
    ]

    func addRoutes(to router: Router<SimulatorContext>) {
        for (path, handler) in Self.endpoints {
            let serve: @Sendable (Request, SimulatorContext) async throws -> Response = { request, context in
                // Every outcome recorded while serving the request counts for its endpoint and
                // its client too.
                try await SimulatorStats.$endpoint.withValue(path) {
                    try await SimulatorStats.$client.withValue(request.headers[.userAgent] ?? "unknown") {
                        try await handler(self, request, context)
                    }
                }
            }
            router.post(RouterPath("v1/" + path), use: serve)
            // Azure OpenAI: its v1 API, and the deployment paths, which need an api-version.
            router.post(RouterPath("openai/v1/" + path), use: serve)
            router.post(RouterPath("openai/deployments/:deployment/" + path)) { request, context in
                guard request.uri.queryParameters["api-version"] != nil else {
                    return Self.json(
                        OpenAIErrorBody(error: .init(message: "Resource not found", type: nil, code: "404")),
                        status: .notFound
                    )
                }
                return try await serve(request, context)
            }
        }
        // Anthropic's Messages API, in its own dialect (errors, headers, key).
        router.post("v1/messages") { request, context in
            try await SimulatorStats.$endpoint.withValue("messages") {
                try await SimulatorStats.$client.withValue(request.headers[.userAgent] ?? "unknown") {
                    try await SimulatorDialect.$current.withValue(.anthropic) {
                        try await self.messages(request, context: context)
                    }
                }
            }
        }
        router.get("v1/models") { request, _ in
            if let denied = self.checkKey(request) { return denied }
            return Self.json(Self.models)
        }
        router.get("posts/:id") { request, context in
            try await self.post(request, context: context)
        }
        router.get("stats") { _, _ in
            Self.json(self.stats.snapshot())
        }
    }
}

/// The simulator could not do what was asked.
public struct SimulatorError: Error, CustomStringConvertible {
    /// What went wrong.
    public var message: String
    /// A one-line description for people.
    public var description: String { message }
}

extension Simulator {
    /// Runs the server in the foreground until SIGINT or SIGTERM (as `pacer simulate` does).
    ///
    /// - Parameter onReady: Called with the bound port once the server listens.
    public func run(onReady: @escaping @Sendable (Int) async -> Void) async throws {
        try await makeApplication(onReady: onReady).runService()
    }
}
