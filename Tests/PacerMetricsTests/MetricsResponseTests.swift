import NIOCore
import NIOHTTP1
import Testing

@testable import PacerMetrics

/// What a ``MetricsServer`` answers, without a socket.
@Suite struct MetricsResponseTests {
    func request(_ method: HTTPMethod, _ uri: String, version: HTTPVersion = .http1_1) -> HTTPRequestHead {
        HTTPRequestHead(version: version, method: method, uri: uri)
    }

    @Test func getMetricsRendersInPrometheusTextFormat() {
        let response = MetricsResponse(to: request(.GET, "/metrics?name[]=x")) { Array("pacer_up 1\n".utf8) }
        #expect(response.status == .ok)
        #expect(response.headers["content-type"] == ["text/plain; version=0.0.4; charset=utf-8"])
        #expect(response.headers["content-length"] == ["11"])
        #expect(response.headers["connection"].isEmpty, "HTTP/1.1 keeps the connection by default")
        #expect(response.parts.count == 3)
    }

    @Test func headHasTheLengthButNoBody() {
        let response = MetricsResponse(to: request(.HEAD, "/metrics")) { Array("pacer_up 1\n".utf8) }
        #expect(response.headers["content-length"] == ["11"])
        #expect(response.parts.count == 2)
    }

    @Test func otherMethodsAndPathsAreRefusedWithoutRendering() {
        let post = MetricsResponse(to: request(.POST, "/metrics")) {
            Issue.record("rendered")
            return []
        }
        #expect(post.status == .methodNotAllowed)
        #expect(post.headers["allow"] == ["GET, HEAD"])
        let other = MetricsResponse(to: request(.GET, "/")) {
            Issue.record("rendered")
            return []
        }
        #expect(other.status == .notFound)
        #expect(String(decoding: other.body, as: UTF8.self) == "not found: the metrics are at /metrics\n")
    }

    @Test func http10KeepsTheConnectionOnlyWhenAsked() {
        var keepAlive = request(.GET, "/metrics", version: .http1_0)
        keepAlive.headers.add(name: "connection", value: "keep-alive")
        #expect(MetricsResponse(to: keepAlive) { [] }.headers["connection"] == ["keep-alive"])
        #expect(
            MetricsResponse(to: request(.GET, "/metrics", version: .http1_0)) { [] }.headers["connection"] == ["close"]
        )
    }
}
