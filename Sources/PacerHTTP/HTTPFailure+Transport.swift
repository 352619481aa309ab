import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import PacerCore

extension HTTPFailure {
    /// What the classification knows about the request that failed, for messages a person can act on.
    struct Context: Sendable {
        /// The host (`127.0.0.1`, `api.example.com`), or "the server" when unknown.
        var host: String
        /// `host:port`, or the host alone when the URL names no port.
        var address: String
        /// The connect timeout in force, when known.
        var connectTimeout: Duration?
        /// The names of the request's headers.
        var headerNames: [String]
        /// What to do about an untrusted certificate.
        var untrustedCertificateAdvice: String

        init(
            url: String?,
            connectTimeout: Duration? = nil,
            headerNames: [String] = [],
            untrustedCertificateAdvice: String = HTTPTransport.Configuration().untrustedCertificateAdvice
        ) {
            let components = url.flatMap(URLComponents.init(string:))
            let host = components?.host.flatMap { $0.isEmpty ? nil : $0 }
            self.host = host ?? "the server"
            self.address = host.map { host in components?.port.map { "\(host):\($0)" } ?? host } ?? "the server"
            self.connectTimeout = connectTimeout
            self.headerNames = headerNames
            self.untrustedCertificateAdvice = untrustedCertificateAdvice
        }
    }

    /// The error for something thrown while sending `context`'s request or reading its answer.
    static func error(classifying error: any Error, context: Context) -> ItemError {
        switch error {
        case let error as ItemError:
            return error
        case is CancellationError:
            return .cancelled
        case let error as HTTPClientError:
            return classify(error, context)
        case is NIOTooManyBytesError, is ResponseAccumulator.ResponseTooBigError:
            return ItemError(kind: .invalidResponse, message: "response body too large", isRetryable: false)
        case let error as NIOConnectionError:
            return classify(error, context)
        case let error as SocketAddressError.UnknownHost:
            return dnsFailure(code: error.errorCode, reason: error.errorDescription, context)
        case let error as IOError:
            return connectionFailure(errno: error.errnoCode, context)
        case let error as ChannelError:
            return classify(error, context)
        case let error as NIOSSLError:
            return classify(error, context)
        case let error as NIOSSLExtraError:
            return classify(error, context)
        case let error as HTTPParserError where error == .invalidEOFState || error == .closedConnection:
            // The connection closed mid-answer (a truncated body): the next attempt may get it whole.
            return closedEarly(context, detail: "\(error)")
        case let error as HTTPParserError:
            return ItemError(
                kind: .invalidResponse,
                message:
                    "the answer from \(context.address) is not HTTP/1.1 (\(error)); check the URL's scheme and port",
                isRetryable: false
            )
        default:
            // Unknown means permanent: retrying what cannot succeed costs five attempts per item
            // and opens the circuit breaker for everyone.
            return ItemError(
                kind: .network,
                message: "request to \(context.address) failed: \(error)",
                isRetryable: false
            )
        }
    }

    private static func classify(_ error: HTTPClientError, _ context: Context) -> ItemError {
        switch error {
        case .connectTimeout:
            return connectTimedOut(context)
        case .tlsHandshakeTimeout, .socksHandshakeTimeout, .httpProxyHandshakeTimeout:
            return ItemError(
                kind: .network,
                message: "could not connect to \(context.address): \(error.shortDescription.lowercased())",
                isRetryable: true
            )
        case .readTimeout, .writeTimeout, .deadlineExceeded, .getConnectionFromPoolTimeout:
            return ItemError(kind: .timeout, message: error.shortDescription.lowercased(), isRetryable: true)
        case .remoteConnectionClosed, .uncleanShutdown, .bodyLengthMismatch:
            return closedEarly(context, detail: error.shortDescription.lowercased())
        case .cancelled:
            return .cancelled
        case .invalidURL, .emptyHost, .emptyScheme, .missingSocketPath:
            return ItemError(
                kind: .invalidInput,
                message: "not a usable URL (\(error.shortDescription.lowercased()))",
                isRetryable: false
            )
        case .redirectLimitReached, .redirectCycleDetected:
            return ItemError(
                kind: .invalidResponse,
                message: "\(context.address) redirects too often (\(error.shortDescription.lowercased()))",
                isRetryable: false
            )
        case .proxyAuthenticationRequired:
            return ItemError(
                kind: .httpStatus,
                status: 407,
                message: "the proxy requires authentication",
                isRetryable: false
            )
        default:
            return classifyOther(error, context)
        }
    }

    /// The `HTTPClientError`s with associated values (compared by their bounded short description)
    /// and the rest, all permanent.
    private static func classifyOther(_ error: HTTPClientError, _ context: Context) -> ItemError {
        switch error.shortDescription {
        case HTTPClientError.invalidHeaderFieldNames([]).shortDescription:
            let invalid = context.headerNames.filter { !HTTPHeaderName.isValid($0) }
            let names = invalid.isEmpty ? "" : " " + invalid.map { "'\($0)'" }.joined(separator: ", ")
            return ItemError(
                kind: .invalidInput,
                message: "invalid header name\(names): use letters, digits and \(HTTPHeaderName.allowedSymbols) only",
                isRetryable: false
            )
        case HTTPClientError.invalidHeaderFieldValues([]).shortDescription:
            // The values are not quoted: a header value may be a secret.
            return ItemError(
                kind: .invalidInput,
                message: "a header value holds a line break or control character",
                isRetryable: false
            )
        case HTTPClientError.unsupportedScheme("").shortDescription:
            return ItemError(
                kind: .invalidInput,
                message: "unsupported URL scheme; use http or https",
                isRetryable: false
            )
        default:
            return ItemError(
                kind: .network,
                message: "request to \(context.address) failed: \(error.shortDescription)",
                isRetryable: false
            )
        }
    }

    private static func classify(_ error: ChannelError, _ context: Context) -> ItemError {
        switch error {
        case .connectTimeout:
            return connectTimedOut(context)
        case .ioOnClosedChannel, .alreadyClosed, .eof, .outputClosed, .inputClosed:
            return closedEarly(context, detail: "\(error)")
        default:
            return ItemError(
                kind: .network,
                message: "request to \(context.address) failed: \(error)",
                isRetryable: false
            )
        }
    }

    /// A connect timeout counts as a connection failure (kind `network`), and may pass.
    static func connectTimedOut(_ context: Context) -> ItemError {
        let within = context.connectTimeout.map { " within \(seconds($0)) s" } ?? " in time"
        return ItemError(kind: .network, message: "could not connect to \(context.address)\(within)", isRetryable: true)
    }

    static func closedEarly(_ context: Context, detail: String) -> ItemError {
        ItemError(
            kind: .network,
            message: "connection to \(context.address) closed before the response was complete (\(detail))",
            isRetryable: true
        )
    }

    /// `10`, `0.5`, `2.25`: seconds to the millisecond, without trailing zeros.
    static func seconds(_ duration: Duration) -> String {
        let milliseconds = (duration.pacerSeconds * 1000).rounded()
        return milliseconds.truncatingRemainder(dividingBy: 1000) == 0
            ? String(Int64(milliseconds / 1000)) : String(milliseconds / 1000)
    }
}
