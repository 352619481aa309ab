import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import PacerServe

/// What a test of `pacer serve` sends over real HTTP, as openai-python sends it.
protocol ServeTesting {}

/// A server's answer: its status and body.
struct Answer {
    var status: HTTPResponseStatus
    var body: String
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:] }
    var error: [String: Any] { json["error"] as? [String: Any] ?? [:] }
}

extension ServeTesting {
    func send(
        _ method: HTTPMethod,
        _ url: String,
        key: String? = "sk-one",
        contentType: String? = nil,
        body: HTTPClientRequest.Body? = nil
    ) async throws -> Answer {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let key { request.headers.add(name: "Authorization", value: "Bearer \(key)") }
        if let contentType { request.headers.add(name: "Content-Type", value: contentType) }
        if let body { request.body = body }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 64 * 1024 * 1024)
        return Answer(status: response.status, body: String(buffer: bytes))
    }

    /// A JSON request, as openai-python sends `client.batches.create`.
    func sendJSON(
        _ method: HTTPMethod,
        _ url: String,
        key: String? = "sk-one",
        _ object: [String: Any]
    ) async throws
        -> Answer
    {
        let data = try JSONSerialization.data(withJSONObject: object)
        return try await send(
            method,
            url,
            key: key,
            contentType: "application/json",
            body: .bytes(ByteBuffer(bytes: data))
        )
    }

    /// A multipart body as httpx (openai-python's transport) builds it: `purpose`, then `file`.
    static func multipart(
        _ content: String,
        purpose: String? = "batch",
        filename: String = "in.jsonl"
    ) -> (String, String) {
        let boundary = "pacer-test-boundary"
        var body = ""
        if let purpose {
            body += "--\(boundary)\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\n\(purpose)\r\n"
        }
        body += "--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(filename)\"\r\n"
        body += "Content-Type: application/octet-stream\r\n\r\n\(content)\r\n--\(boundary)--\r\n"
        return ("multipart/form-data; boundary=\(boundary)", body)
    }

    func upload(
        _ server: BatchServer.Running,
        _ content: String,
        key: String? = "sk-one",
        purpose: String? = "batch"
    ) async throws -> Answer {
        let (type, body) = Self.multipart(content, purpose: purpose)
        return try await send(
            .POST,
            server.baseURL + "/files",
            key: key,
            contentType: type,
            body: .bytes(ByteBuffer(string: body))
        )
    }
}
