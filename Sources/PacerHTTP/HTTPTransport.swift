import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPCompression
import NIOSSL
import PacerCore

/// A request to send: method, absolute URL, headers and an optional body.
public struct HTTPRequestSpec: Sendable {
    /// The HTTP method.
    public var method: HTTPMethod
    /// The absolute URL, `http` or `https`.
    public var url: String
    /// The request headers.
    public var headers: HTTPHeaders
    /// The body, if any.
    public var body: ByteBuffer?

    /// Creates a request.
    public init(method: HTTPMethod = .GET, url: String, headers: HTTPHeaders = [:], body: ByteBuffer? = nil) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }
}

/// A complete response: status, headers and the whole body.
public struct HTTPResponseData: Sendable {
    /// The HTTP status code.
    public var status: Int
    /// The response headers.
    public var headers: HTTPHeaders
    /// The whole body.
    public var body: ByteBuffer

    /// Creates a response.
    public init(status: Int, headers: HTTPHeaders, body: ByteBuffer) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

/// One HTTP client shared by a whole batch: one connection pool, sized to the concurrency.
///
/// Either the transport makes its own client (``init(configuration:)``; shut it down with
/// ``shutdown()``, or use ``withTransport(configuration:_:)`` so that it is shut down when the
/// batch ends, whatever happens), or it borrows one the app already has
/// (``init(client:configuration:)``: `HTTPClient.shared`, or a client with the app's TLS and
/// proxy settings), which it never shuts down.
public final class HTTPTransport: Sendable {
    /// The settings this transport was created with.
    public let configuration: Configuration
    private let client: HTTPClient
    /// Whether ``shutdown()`` shuts the client down: only a client this transport made.
    private let ownsClient: Bool
    /// The connect timeout, when this transport set it (for messages).
    private let knownConnectTimeout: Duration?
    /// Requests with their URL parsed, by URL.
    let templates = RequestTemplates()

    /// Creates a transport with a client of its own. Call ``shutdown()`` when done, or use
    /// ``withTransport(configuration:_:)``.
    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        var clientConfiguration = HTTPClient.Configuration()
        clientConfiguration.connectionPool = .init(
            idleTimeout: .seconds(60),
            concurrentHTTP1ConnectionsPerHostSoftLimit: configuration.maxConnectionsPerHost
        )
        // A refused connection fails the attempt at once, so the engine's backoff (not the
        // client's silent reconnect loop) decides when to try again.
        clientConfiguration.connectionPool.retryConnectionEstablishment = false
        clientConfiguration.timeout = .init(connect: .nanoseconds(configuration.connectTimeout.nanoseconds))
        clientConfiguration.decompression = .enabled(limit: .ratio(50))
        clientConfiguration.httpVersion = .http1Only
        var tls = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots.apply(to: &tls)
        clientConfiguration.tlsConfiguration = tls
        // Pacer records no traces. With the default, the client asks the global tracer (a
        // no-op unless an app installed one) for a span per request and fills in its
        // attributes from the URL again: about 1.5% of a request's CPU for nothing. A borrowed
        // client (`init(client:configuration:)`) keeps its app's tracing.
        clientConfiguration.tracing.tracer = nil
        self.client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfiguration)
        self.ownsClient = true
        self.knownConnectTimeout = configuration.connectTimeout
    }

    /// Creates a transport over a client the caller owns; ``shutdown()`` leaves it running.
    ///
    /// The client's own settings decide pooling, timeouts, TLS and proxies; of `configuration`
    /// only ``Configuration/requestDeadline``, ``Configuration/maxBodyBytes`` and
    /// ``Configuration/untrustedCertificateAdvice`` apply.
    ///
    /// ```swift
    /// let fetcher = URLFetcher(transport: HTTPTransport(client: .shared))
    /// ```
    ///
    /// - Parameters:
    ///   - client: The client to send with, e.g. `HTTPClient.shared`.
    ///   - configuration: Deadline and body limit (default: the defaults).
    public init(client: HTTPClient, configuration: Configuration = Configuration()) {
        self.configuration = configuration
        self.client = client
        self.ownsClient = false
        self.knownConnectTimeout = nil
    }

    /// Runs `body` with a new transport and shuts it down afterwards.
    public static func withTransport<T: Sendable>(
        configuration: Configuration = Configuration(),
        _ body: (HTTPTransport) async throws -> T
    ) async throws -> T {
        let transport = HTTPTransport(configuration: configuration)
        let result: Result<T, any Error>
        do {
            result = .success(try await body(transport))
        } catch {
            result = .failure(error)
        }
        try await transport.shutdown()
        return try result.get()
    }

    /// Sends a request and reads the whole response.
    ///
    /// The request, body included, must end within `timeout` (and always within the
    /// configuration's ``Configuration/requestDeadline``). The deadline is a timer on the
    /// connection's event loop, which costs far less than racing the request against a
    /// sleeping task.
    ///
    /// - Throws: An `ItemError` classified by ``HTTPFailure/error(classifying:)``
    ///   (`ItemError/timedOut(after:)` past `timeout`); a non-2xx status is not an error here.
    public func send(_ request: HTTPRequestSpec, timeout: Duration? = nil) async throws -> HTTPResponseData {
        let limit = min(timeout ?? configuration.requestDeadline, configuration.requestDeadline)
        let task: HTTPClient.Task<HTTPClient.Response>
        do {
            let outgoing = try templates.request(for: request)
            // The future-based API: its deadline covers the whole body, and the accumulator
            // collects the body on the event loop instead of one async hop per chunk.
            task = client.execute(
                request: outgoing,
                delegate: ResponseAccumulator(request: outgoing, maxBodySize: configuration.maxBodyBytes),
                deadline: .now() + .nanoseconds(limit.nanoseconds)
            )
        } catch {
            throw HTTPFailure.error(classifying: error, context: failureContext(request, limit: limit))
        }
        do {
            let response = try await withTaskCancellationHandler {
                try await task.futureResult.get()
            } onCancel: {
                task.cancel()
            }
            return HTTPResponseData(
                status: Int(response.status.code),
                headers: response.headers,
                body: response.body ?? ByteBuffer()
            )
        } catch let error as HTTPClientError where error == .deadlineExceeded && limit == timeout {
            throw ItemError.timedOut(after: limit)
        } catch {
            throw HTTPFailure.error(classifying: error, context: failureContext(request, limit: limit))
        }
    }

    /// What the error classification needs to know about a failed request (built only on failure).
    func failureContext(_ request: HTTPRequestSpec, limit: Duration) -> HTTPFailure.Context {
        // A request whose deadline passes while it waits for a connection fails as a connect
        // timeout too: the attempt's limit is the timeout that was hit when it is the shorter.
        HTTPFailure.Context(
            url: request.url,
            connectTimeout: knownConnectTimeout.map { min($0, limit) },
            headerNames: request.headers.map(\.name),
            untrustedCertificateAdvice: configuration.untrustedCertificateAdvice
        )
    }

    /// Starts a request with a delegate of the caller's on this transport's client.
    func execute<Delegate: HTTPClientResponseDelegate>(
        _ request: HTTPClient.Request,
        delegate: Delegate,
        deadline: NIODeadline
    ) -> HTTPClient.Task<Delegate.Response> {
        client.execute(request: request, delegate: delegate, deadline: deadline)
    }

    /// Closes every connection of a client this transport made; leaves a borrowed client
    /// running. Call once, after the last request.
    public func shutdown() async throws {
        guard ownsClient else { return }
        try await client.shutdown()
    }
}

extension Duration {
    /// The duration in whole nanoseconds, saturating.
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : product + attoseconds / 1_000_000_000
    }
}
