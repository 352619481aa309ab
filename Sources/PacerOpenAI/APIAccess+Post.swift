import NIOCore
import NIOHTTP1
import PacerCore
import PacerHTTP

/// What every request of one client shares, worked out once when the client is made rather
/// than for every request: the headers (the key's header among them), and each endpoint's URL
/// unless it depends on the request's model (Azure's deployment paths).
///
/// The one place ``ChatClient``, ``APIClient`` and ``EmbeddingsClient`` send from.
struct PreparedAccess: Sendable {
    /// The access the rest was worked out from.
    let access: APIAccess
    /// The headers of a JSON request.
    let headers: HTTPHeaders
    /// The headers of a request for a streamed answer.
    let streamHeaders: HTTPHeaders
    /// Every endpoint's URL, when none depends on the model.
    private let urls: [APIEndpoint: String]

    /// Works out what the requests through `access` share.
    init(_ access: APIAccess) {
        self.access = access
        headers = access.requestHeaders()
        var streamHeaders = headers
        streamHeaders.replaceOrAdd(name: "accept", value: "text/event-stream")
        self.streamHeaders = streamHeaders
        var urls: [APIEndpoint: String] = [:]
        if access.azureAPIVersion == nil {
            for endpoint in APIEndpoint.allCases { urls[endpoint] = access.url(for: endpoint, model: nil) }
        }
        self.urls = urls
    }

    /// The URL `endpoint` is reached at for a request for `model`.
    func url(for endpoint: APIEndpoint, model: String?) -> String {
        urls[endpoint] ?? access.url(for: endpoint, model: model)
    }

    /// Posts a JSON body to `endpoint` for `model` over `transport`. A transport failure
    /// comes back redacted.
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
                    headers: headers,
                    body: ByteBuffer(bytes: body)
                ),
                timeout: timeout
            )
        } catch let error as ItemError {
            throw redactor.redact(error)
        }
    }

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
        do {
            return try await transport.stream(
                HTTPRequestSpec(
                    method: .POST,
                    url: url(for: endpoint, model: model),
                    headers: streamHeaders,
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
