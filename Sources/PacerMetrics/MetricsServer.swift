import NIOCore
import NIOHTTP1
import NIOPosix

/// A small HTTP/1.1 server that answers `GET /metrics` with the text a closure renders (the
/// Prometheus exposition format), for as long as a block of work runs.
///
/// It listens before the work starts, so a port that cannot be used fails at once with a
/// ``MetricsServerError``; it stops, closing every connection, when the work ends. Each scrape
/// calls `render` once, on the connection's task: nothing runs between scrapes.
///
/// ```swift
/// let server = MetricsServer(configuration: .init(port: 9464)) { registry.emitToBuffer() }
/// try await server.withRunning { running in
///     print("metrics at", running.url)
///     try await work()
/// }
/// ```
public struct MetricsServer: Sendable {
    /// Where the server listens.
    public struct Configuration: Sendable, Hashable {
        /// The address to listen on (default `127.0.0.1`: this machine only; `0.0.0.0` for
        /// every interface).
        public var host: String
        /// The port (default 9464, the port Prometheus's registry of exporters gives; 0 for
        /// any free one, see ``Running/port``).
        public var port: Int

        /// Creates a configuration; see each property for its default.
        public init(host: String = "127.0.0.1", port: Int = 9464) {
            self.host = host
            self.port = port
        }
    }

    /// A server that listens.
    public struct Running: Sendable, Hashable {
        /// The address it listens on.
        public let host: String
        /// The port it listens on (the one the system chose, when the configuration said 0).
        public let port: Int

        /// The address to scrape, e.g. `http://127.0.0.1:9464/metrics`.
        public var url: String {
            let shown = host.contains(":") ? "[\(host)]" : host
            return "http://\(shown):\(port)/metrics"
        }
    }

    /// Where to listen.
    public let configuration: Configuration
    /// The body of one scrape.
    let render: @Sendable () -> [UInt8]

    /// Creates a server that answers each scrape with `render`'s bytes.
    ///
    /// - Parameters:
    ///   - configuration: Where to listen.
    ///   - render: The metrics now, in Prometheus's text format.
    public init(configuration: Configuration, render: @escaping @Sendable () -> [UInt8]) {
        self.configuration = configuration
        self.render = render
    }

    /// Listens, runs `body` while answering scrapes, and stops when `body` ends.
    ///
    /// - Returns: What `body` returns.
    /// - Throws: A ``MetricsServerError`` when the server cannot listen (`body` does not run
    ///   then), or what `body` throws.
    public func withRunning<T>(_ body: (Running) async throws -> T) async throws -> T {
        let channel = try await listen()
        let running = Running(
            host: configuration.host,
            port: channel.channel.localAddress?.port ?? configuration.port
        )
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { [render] in await Self.accept(on: channel, render: render) }
            // The server's task ends when cancelled: at the end of the work, however it ends.
            defer { group.cancelAll() }
            return try await body(running)
        }
    }

    private typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

    private func listen() async throws -> NIOAsyncChannel<Connection, Never> {
        do {
            return try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .bind(host: configuration.host, port: configuration.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                        return try Connection(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw MetricsServerError(listening: configuration, error)
        }
    }

    /// Accepts connections until cancelled, each served on a task of its own.
    private static func accept(
        on channel: NIOAsyncChannel<Connection, Never>,
        render: @escaping @Sendable () -> [UInt8]
    ) async {
        // Ends (and closes every connection) when cancelled.
        try? await withThrowingDiscardingTaskGroup { group in
            try await channel.executeThenClose { connections in
                for try await connection in connections {
                    group.addTask { await serve(connection, render: render) }
                }
            }
        }
    }

    /// Answers the requests of one connection until it closes, asks to close, or is cancelled.
    private static func serve(_ connection: Connection, render: @Sendable () -> [UInt8]) async {
        // A client that goes away mid-answer is no concern of the run's.
        try? await connection.executeThenClose { requests, responses in
            var head: HTTPRequestHead?
            for try await part in requests {
                switch part {
                case .head(let request):
                    head = request
                case .body:
                    continue
                case .end:
                    guard let request = head else { return }
                    head = nil
                    try await responses.write(contentsOf: MetricsResponse(to: request, render: render).parts)
                    if !request.isKeepAlive { return }
                }
            }
        }
    }
}
