import Foundation
import Logging
import NIOCore
import NIOHTTP1
import PacerCore
import PacerJSON

/// One URL to fetch, with optional extra headers.
public struct FetchRequest: Sendable, Hashable {
    /// The absolute `http` or `https` URL.
    public var url: String
    /// Headers sent with this request, in addition to the fetcher's.
    public var headers: [String: String]

    /// Creates a request.
    public init(url: String, headers: [String: String] = [:]) {
        self.url = url
        self.headers = headers
    }
}

/// A successful fetch: the status and the decoded JSON body.
public struct FetchResult: MeteredOutput, Hashable {
    /// The URL that was fetched.
    public var url: String
    /// The HTTP status (2xx).
    public var status: Int
    /// The JSON body.
    public var data: JSONValue
    /// What the response said about the server's rate limits.
    public var rateLimit: RateLimitSnapshot?

    /// Creates a result.
    public init(url: String, status: Int, data: JSONValue, rateLimit: RateLimitSnapshot? = nil) {
        self.url = url
        self.status = status
        self.data = data
        self.rateLimit = rateLimit
    }
}

/// Fetches JSON over HTTP GET, one attempt per call: the reference `RateLimitedProcessor`
/// done right when run by a `BatchRunner` (shared connection pool, classified errors,
/// jittered backoff, `Retry-After`).
///
/// ```swift
/// try await HTTPTransport.withTransport { transport in
///     let fetcher = URLFetcher(transport: transport)
///     let runner = BatchRunner(configuration: .init(maxConcurrent: 5, attemptTimeout: .seconds(10)))
///     let (results, summary) = try await runner.collect(urls.map { FetchRequest(url: $0) }, operation: fetcher)
/// }
/// ```
public struct URLFetcher: BatchOperation {
    /// The shared transport.
    public let transport: HTTPTransport
    /// Headers sent with every request.
    public var headers: [String: String]

    /// Creates a fetcher.
    ///
    /// - Parameters:
    ///   - transport: The shared transport.
    ///   - headers: Headers sent with every request (default: `Accept: application/json`).
    public init(transport: HTTPTransport, headers: [String: String] = ["Accept": "application/json"]) {
        self.transport = transport
        self.headers = headers
    }

    /// Fetches one URL once.
    ///
    /// - Throws: An `ItemError`: retryable for connection errors, timeouts, 408/409/429/5xx
    ///   and bodies that are not complete JSON; permanent for other 4xx and unusable URLs.
    public func attempt(_ item: BatchItem<FetchRequest>, attempt: Int) async throws -> FetchResult {
        try await fetch(item.input, timeout: nil)
    }

    /// Fetches one URL once; the request, body included, must end within `timeout`.
    public func attempt(_ item: BatchItem<FetchRequest>, attempt: Int, timeout: Duration) async throws -> FetchResult {
        try await fetch(item.input, timeout: timeout)
    }

    /// `true`: the request's deadline bounds an attempt.
    public var enforcesTimeout: Bool { true }

    private func fetch(_ input: FetchRequest, timeout: Duration?) async throws -> FetchResult {
        let url = input.url
        guard url.hasPrefix("http://") || url.hasPrefix("https://") else {
            throw ItemError(kind: .invalidInput, message: "not an http(s) URL: \(url)", isRetryable: false)
        }
        var requestHeaders = HTTPHeaders()
        for (name, value) in headers.merging(input.headers, uniquingKeysWith: { $1 }) {
            requestHeaders.replaceOrAdd(name: name, value: value)
        }
        let response = try await transport.send(
            HTTPRequestSpec(method: .GET, url: url, headers: requestHeaders),
            timeout: timeout
        )
        guard (200...299).contains(response.status) else {
            throw HTTPFailure.error(
                status: response.status,
                headers: response.headers,
                message: "HTTP \(response.status): \(HTTPFailure.excerpt(of: response.body))"
            )
        }
        do {
            let data = try JSONValue(parsing: response.body)
            return FetchResult(
                url: url,
                status: response.status,
                data: data,
                rateLimit: RateLimitHeaders.snapshot(from: response.headers)
            )
        } catch {
            throw ItemError(
                kind: .invalidResponse,
                status: response.status,
                message:
                    "body is not valid JSON (\(response.body.readableBytes) bytes): \(HTTPFailure.excerpt(of: response.body, limit: 80))",
                isRetryable: true,
                rateLimit: RateLimitHeaders.snapshot(from: response.headers)
            )
        }
    }
}
