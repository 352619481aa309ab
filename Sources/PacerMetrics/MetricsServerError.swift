import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a ``MetricsServer`` could not listen, with what to do about it.
///
/// Its ``description`` names the address and says what to change:
/// `cannot listen on 127.0.0.1:9464: the port is in use (another pacer, or another exporter); choose another port`.
public struct MetricsServerError: Error, Sendable, Hashable, CustomStringConvertible {
    private enum Code: Sendable, Hashable {
        case portInUse
        case notPermitted
        case addressNotAvailable
        case unknownHost
        case other(String)
    }

    private let code: Code
    /// Where the server tried to listen.
    public let host: String
    /// The port it tried.
    public let port: Int

    /// The port is taken by another program.
    public var isPortInUse: Bool { code == .portInUse }

    /// The host is to blame (not an address of this machine, or unknown), not the port.
    public var concernsHost: Bool { code == .addressNotAvailable || code == .unknownHost }

    /// Classifies the error the socket gave.
    init(listening configuration: MetricsServer.Configuration, _ error: any Error) {
        host = configuration.host
        port = configuration.port
        switch error {
        case let error as IOError where error.errnoCode == EADDRINUSE: code = .portInUse
        case let error as IOError where error.errnoCode == EACCES: code = .notPermitted
        case let error as IOError where error.errnoCode == EADDRNOTAVAIL: code = .addressNotAvailable
        case is SocketAddressError, is SocketAddressError.UnknownHost: code = .unknownHost
        default: code = .other(String(describing: error))
        }
    }

    /// A one-line description for people, with what to change.
    public var description: String {
        let address = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        let reason =
            switch code {
            case .portInUse:
                "the port is in use (another pacer, or another exporter); choose another port"
            case .notPermitted:
                "not permitted (ports below 1024 need privileges); choose a port above 1023"
            case .addressNotAvailable:
                "\(host) is not an address of this machine; use 127.0.0.1, or 0.0.0.0 for every interface"
            case .unknownHost:
                "\(host) is not a known host or address; use 127.0.0.1, or 0.0.0.0 for every interface"
            case .other(let message):
                message
            }
        return "cannot listen on \(address): \(reason)"
    }
}
