import NIOCore
import NIOPosix
import PostgresNIO
import _ConnectionPoolModule

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reading the errors of postgres-nio: which mean "the database is not reachable now" (worth
/// waiting for), and what to tell a person.
///
/// `PSQLError`'s own description hides everything (it may hold data); these messages hold
/// the server's message and SQLSTATE, or the connection's failure, and never a password.
public enum DatabaseFailure {
    /// Whether `error` means the database cannot be reached or is restarting, so that the same
    /// work may succeed later: a refused or cut connection, a server shutting down or starting
    /// (SQLSTATE 57P01–57P03), connection exceptions (08…), too many connections (53300), and
    /// a pool that gave up connecting for now.
    public static func isOutage(_ error: any Error) -> Bool {
        if error is ConnectionPoolError || error is Unanswered { return true }
        if error is IOError || error is ChannelError { return true }
        guard let error = error as? PSQLError else { return false }
        switch error.code {
        case .connectionError, .serverClosedConnection, .uncleanShutdown, .clientClosedConnection, .poolClosed:
            return true
        case .server:
            let state = error.serverInfo?[.sqlState] ?? ""
            return state.hasPrefix("08") || state.hasPrefix("57P") || state == "53300" || state == "40001"
                || state == "40P01"
        default:
            return false
        }
    }

    /// Why a connection could not be made, in the system's words ("Connection refused").
    static func connectionFailure(_ error: any Error) -> String {
        if let error = error as? NIOConnectionError {
            if let first = error.connectionErrors.first { return connectionFailure(first.error) }
            if let dns = error.dnsAAAAError ?? error.dnsAError { return "cannot resolve the host (\(dns))" }
        }
        if let error = error as? IOError { return String(cString: strerror(error.errnoCode)) }
        if error is ChannelError { return "\(error)" }
        return String(describing: error)
    }

    /// A statement went unanswered while the database answered a new connection: the
    /// connection it went out on is taken for dead (see ``QueueDatabase/retrying(_:abandonAfter:onOutage:_:)``).
    public struct Unanswered: Error, Hashable, CustomStringConvertible {
        /// How long it waited.
        public var after: Duration

        /// One line for a person.
        public var description: String {
            "no answer in \(after.components.seconds) s on a connection while the database answers new ones"
        }
    }

    /// One line for a person: the server's message with its SQLSTATE, or why the connection failed.
    public static func describe(_ error: any Error) -> String {
        if let error = error as? ConnectionPoolError {
            if error == .connectionCreationCircuitBreakerTripped {
                return "no connection could be made for a while (is the server running, and the URL right?)"
            }
            return "the connection pool stopped (\(error))"
        }
        guard let error = error as? PSQLError else { return String(describing: error) }
        switch error.code {
        case .server:
            let message = error.serverInfo?[.message] ?? "error"
            let state = error.serverInfo?[.sqlState].map { " (SQLSTATE \($0))" } ?? ""
            let detail = error.serverInfo?[.detail].map { ": \($0)" } ?? ""
            return message + detail + state
        case .connectionError:
            return "cannot connect: " + (error.underlying.map(connectionFailure) ?? "the connection failed")
        case .serverClosedConnection, .uncleanShutdown:
            return "the server closed the connection"
        case .sslUnsupported:
            return "the server does not support TLS (use ?sslmode=disable or prefer)"
        case .authMechanismRequiresPassword:
            return "the server asks for a password (put it in PGPASSWORD or the URL)"
        default:
            return "\(error.code)"
        }
    }
}
