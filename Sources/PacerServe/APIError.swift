import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// An error answered in OpenAI's shape (`{"error": {"message", "type", "param", "code"}}`) with
/// the status openai-python expects, so that its client raises the matching exception
/// (`AuthenticationError` for 401, `NotFoundError` for 404, `BadRequestError` for 400…).
public struct APIError: Error, HTTPResponseError, Sendable, Equatable {
    /// The HTTP status.
    public var status: HTTPResponse.Status
    /// What went wrong, for a person.
    public var message: String
    /// OpenAI's error type (`invalid_request_error` for every error a client caused).
    public var type: String
    /// The request parameter at fault, if one is.
    public var param: String?
    /// A machine-readable code, if there is one.
    public var code: String?

    /// Creates an error.
    public init(
        status: HTTPResponse.Status,
        message: String,
        type: String = "invalid_request_error",
        param: String? = nil,
        code: String? = nil
    ) {
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
    }

    /// No `Authorization: Bearer` header.
    static let missingKey = APIError(
        status: .unauthorized,
        message: "You didn't provide an API key. You need to provide your API key in an Authorization header "
            + "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
    )

    /// A key the server's `--client-keys` does not hold (the key itself is never repeated).
    static let unknownKey = APIError(
        status: .unauthorized,
        message: "Incorrect API key provided. This server admits only the keys in its --client-keys file.",
        code: "invalid_api_key"
    )

    /// An id that does not exist, or that another key created (the two are not told apart).
    static func notFound(_ kind: String, id: String) -> APIError {
        APIError(status: .notFound, message: "No such \(kind): \(id)", param: "id")
    }

    /// A bad parameter.
    static func badParameter(_ message: String, param: String?, code: String? = nil) -> APIError {
        APIError(status: .badRequest, message: message, param: param, code: code)
    }

    /// The server could not do what was asked (a full disk, say); the request fails, the
    /// server goes on.
    static func serverFailure(_ message: String) -> APIError {
        APIError(status: .internalServerError, message: message, type: "server_error")
    }

    private struct Body: Encodable {
        struct Detail: Encodable {
            var message: String
            var type: String
            var param: String?
            var code: String?

            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(message, forKey: .message)
                try container.encode(type, forKey: .type)
                // OpenAI sends both, null when empty.
                try container.encode(param, forKey: .param)
                try container.encode(code, forKey: .code)
            }

            enum CodingKeys: String, CodingKey { case message, type, param, code }
        }

        var error: Detail
    }

    /// The response: OpenAI's error body with ``status``.
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        JSONResponse.make(Body(error: .init(message: message, type: type, param: param, code: code)), status: status)
    }
}

/// JSON responses, encoded with Foundation (the API's answers are small: a file or batch
/// object, a page of them).
enum JSONResponse {
    static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return Response(
            status: status,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: data))
        )
    }
}
