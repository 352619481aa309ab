import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import PacerHTTP
import Testing

/// A URL is parsed once per client; each request still carries its own method, headers and body.
@Suite struct RequestTemplatesTests {
    @Test func aRequestFromATemplateCarriesItsOwnMethodHeadersAndBody() throws {
        let templates = RequestTemplates()
        let url = "http://127.0.0.1:8080/v1/embeddings"
        let first = try templates.request(
            for: HTTPRequestSpec(method: .POST, url: url, headers: ["a": "1"], body: ByteBuffer(string: "one"))
        )
        let second = try templates.request(
            for: HTTPRequestSpec(method: .POST, url: url, headers: ["b": "2"], body: ByteBuffer(string: "second"))
        )
        let third = try templates.request(for: HTTPRequestSpec(method: .GET, url: url))
        #expect(first.headers == ["a": "1"] && first.body?.contentLength == 3)
        #expect(second.headers == ["b": "2"] && second.body?.contentLength == 6 && second.method == .POST)
        #expect(third.method == .GET && third.headers.isEmpty && third.body == nil)
        for request in [first, second, third] {
            #expect(request.url.absoluteString == url && request.host == "127.0.0.1" && request.port == 8080)
        }
    }

    @Test func aURLTheClientCannotUseIsRefusedEveryTime() {
        let templates = RequestTemplates()
        for _ in 0..<2 {
            #expect(throws: HTTPClientError.self) {
                try templates.request(for: HTTPRequestSpec(url: "ftp://example.com/file"))
            }
        }
    }
}
