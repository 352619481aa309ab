import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ServiceLifecycle
import UnixSignals

/// `pacer serve`: OpenAI's Files and Batches APIs in front of any OpenAI-compatible server.
/// Clients authenticate with `Authorization: Bearer KEY`; each key sees only what it created.
/// Batches run against the ``Upstream`` through the library's file run, and are kept in the
/// data folder: a server started again on it goes on where it stopped.
///
/// ```swift
/// try await BatchServer.withRunning(ServeConfiguration(port: 0, dataFolder: folder), backend: .upstream(upstream)) { server in
///     print(server.baseURL)  // http://127.0.0.1:PORT/v1
/// }
/// ```
public struct BatchServer: Sendable {
    /// The settings.
    public let configuration: ServeConfiguration
    /// The uploaded files.
    public let files: FileStore
    /// The batches, and the service that runs them.
    let batches: BatchService
    let logger: Logger

    /// Opens the data folder (created if needed) and finds the batches in it; nothing runs
    /// and the server does not listen until ``serviceGroup(signals:onReady:)`` runs.
    ///
    /// - Parameter backend: Who sends the batches; `nil` keeps files only (creating a batch is refused).
    package init(
        configuration: ServeConfiguration,
        backend: BatchBackend? = nil,
        logger: Logger = Logger(label: "pacer.serve", factory: { _ in SwiftLogNoOpLogHandler() })
    ) throws {
        self.configuration = configuration
        let files = try FileStore(dataFolder: configuration.dataFolder)
        self.files = files
        self.batches = BatchService(
            store: try BatchStore(dataFolder: configuration.dataFolder),
            files: files,
            backend: backend,
            logger: logger
        )
        self.logger = logger
    }

    /// Opens the data folder for a server that keeps files only.
    public init(configuration: ServeConfiguration) throws {
        try self.init(configuration: configuration, backend: nil)
    }

    /// A running server's address.
    public struct Running: Sendable {
        /// The port it listens on.
        public let port: Int
        /// The host it listens on.
        public let host: String
        /// `http://HOST:PORT/v1`, the base URL a client is given.
        public var baseURL: String { "http://\(host.contains(":") ? "[\(host)]" : host):\(port)/v1" }
    }

    /// The Hummingbird application; `onReady` is told the port once it listens.
    public func makeApplication(onReady: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol
    {
        let router = Router(context: BasicRequestContext.self)
        addFileRoutes(to: router)
        addBatchRoutes(to: router)
        addStatusRoutes(to: router)
        return Application(
            router: router,
            configuration: .init(
                address: .hostname(configuration.host, port: configuration.port),
                serverName: "pacer-serve"
            ),
            onServerRunning: { channel in await onReady(channel.localAddress?.port ?? 0) },
            logger: logger
        )
    }

    /// The server's services: the batches' runs, and the HTTP application in front of them
    /// (stopped first at a shutdown, so no batch is created while the runs drain).
    ///
    /// - Parameters:
    ///   - signals: The signals that shut the group down gracefully (none in tests).
    ///   - onReady: Told the port once the server listens.
    package func serviceGroup(
        signals: [UnixSignal] = [],
        onReady: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> ServiceGroup {
        ServiceGroup(
            configuration: .init(
                services: [batches, makeApplication(onReady: onReady)],
                gracefulShutdownSignals: signals,
                logger: logger
            )
        )
    }

    /// Starts a server, runs `body` with its address, then stops it.
    public static func withRunning<T: Sendable>(
        _ configuration: ServeConfiguration,
        _ body: (Running) async throws -> T
    ) async throws -> T {
        try await withRunning(configuration, backend: nil, body)
    }

    /// Starts a server whose batches `backend` sends, runs `body` with its address,
    /// then stops it (the batches' runs drain and stay where they are).
    package static func withRunning<T: Sendable>(
        _ configuration: ServeConfiguration,
        backend: BatchBackend?,
        _ body: (Running) async throws -> T
    ) async throws -> T {
        let server = try BatchServer(configuration: configuration, backend: backend)
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let services = server.serviceGroup { port in
            portContinuation.yield(port)
            portContinuation.finish()
        }
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                defer { portContinuation.finish() }
                try await services.run()
            }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else {
                try await group.next()
                throw APIError.serverFailure(
                    "the server could not start on \(configuration.host):\(configuration.port)"
                )
            }
            let result: Result<T, any Error>
            do {
                result = .success(try await body(Running(port: port, host: configuration.host)))
            } catch {
                result = .failure(error)
            }
            await services.triggerGracefulShutdown()
            _ = try? await group.next()
            group.cancelAll()
            return try result.get()
        }
    }

    /// The caller of `request`: its key's owner, if the key is admitted.
    func owner(of request: Request) throws(APIError) -> KeyOwner {
        guard let header = request.headers[.authorization] else { throw .missingKey }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { throw .missingKey }
        let key = parts[1].trimmingCharacters(in: .whitespaces)
        guard !key.isEmpty else { throw .missingKey }
        let owner = KeyOwner(key: key)
        if let keys = configuration.clientKeys, !keys.admits(owner) { throw .unknownKey }
        return owner
    }
}
