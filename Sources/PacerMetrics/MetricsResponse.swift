import NIOCore
import NIOHTTP1

/// The answer to one request to a ``MetricsServer``: the metrics for `GET /metrics` (and its
/// head for `HEAD`), 405 for another method there, 404 elsewhere. Pure, so it is tested
/// without a socket.
struct MetricsResponse {
    /// Prometheus's text exposition format.
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    var status: HTTPResponseStatus
    var headers: HTTPHeaders
    var body: [UInt8]
    /// Whether the body is sent (not for `HEAD`).
    var sendsBody: Bool
    var version: HTTPVersion

    /// The answer to `request`; `render` is called only for the metrics.
    init(to request: HTTPRequestHead, render: () -> [UInt8]) {
        version = request.version
        sendsBody = request.method != .HEAD
        let path = request.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        var contentType = "text/plain; charset=utf-8"
        headers = HTTPHeaders()
        switch (request.method, path) {
        case (.GET, "/metrics"), (.HEAD, "/metrics"):
            status = .ok
            contentType = Self.contentType
            body = render()
        case (_, "/metrics"):
            status = .methodNotAllowed
            headers.add(name: "allow", value: "GET, HEAD")
            body = Array("\(request.method) is not served here: scrape /metrics with GET\n".utf8)
        default:
            status = .notFound
            body = Array("not found: the metrics are at /metrics\n".utf8)
        }
        headers.add(name: "content-type", value: contentType)
        headers.add(name: "content-length", value: String(body.count))
        if !request.isKeepAlive {
            headers.add(name: "connection", value: "close")
        } else if request.version.major == 1, request.version.minor == 0 {
            headers.add(name: "connection", value: "keep-alive")
        }
    }

    /// The parts to write.
    var parts: [HTTPServerResponsePart] {
        let head = HTTPServerResponsePart.head(HTTPResponseHead(version: version, status: status, headers: headers))
        guard sendsBody else { return [head, .end(nil)] }
        return [head, .body(.byteBuffer(ByteBuffer(bytes: body))), .end(nil)]
    }
}
