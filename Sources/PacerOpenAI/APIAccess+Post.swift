import NIOCore
import NIOHTTP1
import PacerCore
import PacerHTTP

extension APIAccess {
    /// Posts a JSON body to `endpoint` for `model` over `transport`: the one place both
    /// ``ChatClient`` and ``APIClient`` send from. A transport failure comes back redacted.
    func post(
        _ body: [UInt8],
        to endpoint: APIEndpoint,
        model: String?,
        over transport: HTTPTransport,
        timeout: Duration?,
        redactor: Redactor
    ) async throws -> HTTPResponseData {
        do {
            return try await transport.send(
                HTTPRequestSpec(
                    method: .POST,
                    url: url(for: endpoint, model: model),
                    headers: requestHeaders(),
                    body: ByteBuffer(bytes: body)
                ),
                timeout: timeout
            )
        } catch let error as ItemError {
            throw redactor.redact(error)
        }
    }
}

extension APIAccess {
    /// Posts a JSON body that asks for a streamed answer and reads the stream with `reader`
    /// (see ``HTTPTransport/stream(_:reader:timeouts:)``). A transport failure comes back
    /// redacted.
    func stream<Reader: StreamingBodyReader>(
        _ body: [UInt8],
        to endpoint: APIEndpoint,
        model: String?,
        over transport: HTTPTransport,
        reader: Reader,
        timeouts: StreamTimeouts,
        redactor: Redactor
    ) async throws -> StreamedResponse<Reader> {
        var headers = requestHeaders()
        headers.replaceOrAdd(name: "accept", value: "text/event-stream")
        do {
            return try await transport.stream(
                HTTPRequestSpec(
                    method: .POST,
                    url: url(for: endpoint, model: model),
                    headers: headers,
                    body: ByteBuffer(bytes: body)
                ),
                reader: reader,
                timeouts: timeouts
            )
        } catch let error as ItemError {
            throw redactor.redact(error)
        }
    }
}
