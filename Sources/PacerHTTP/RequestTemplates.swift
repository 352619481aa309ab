import AsyncHTTPClient
import NIOHTTP1
import Synchronization

/// AsyncHTTPClient requests whose URL has already been parsed, by URL: a batch sends every
/// request of an endpoint to one URL, and parsing it (Foundation's `URL`, then the client's
/// checks of scheme, host and port) cost about 2% of a request's CPU when done per request.
///
/// A request made from a template is the template with the request's own headers and body
/// put in: exactly what `HTTPClient.Request(url:method:headers:body:)` would have built. The
/// table keeps the first ``capacity`` URLs it sees; a batch of distinct URLs (`pacer fetch`)
/// parses each one as before and only pays a lookup.
package final class RequestTemplates: Sendable {
    /// The most URLs kept.
    package static let capacity = 32

    private let templates = Mutex<[String: HTTPClient.Request]>([:])

    /// Creates an empty table.
    package init() {}

    /// The AsyncHTTPClient request for `request`.
    ///
    /// - Throws: What `HTTPClient.Request` throws for a URL it cannot use.
    package func request(for request: HTTPRequestSpec) throws -> HTTPClient.Request {
        let body = request.body.map { HTTPClient.Body.byteBuffer($0) }
        if var outgoing = templates.withLock({ $0[request.url] }), outgoing.method == request.method {
            outgoing.headers = request.headers
            outgoing.body = body
            return outgoing
        }
        let outgoing = try HTTPClient.Request(
            url: request.url,
            method: request.method,
            headers: request.headers,
            body: body
        )
        templates.withLock { table in
            if table.count < Self.capacity {
                var template = outgoing
                template.headers = [:]
                template.body = nil
                table[request.url] = template
            }
        }
        return outgoing
    }
}
