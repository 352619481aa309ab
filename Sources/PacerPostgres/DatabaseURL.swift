import Foundation
import NIOSSL
import PostgresNIO

/// A PostgreSQL connection URL, `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=MODE]`,
/// as libpq and psql read it (`postgresql://` too).
///
/// Its ``description`` never shows the password: it is what messages print. A password can
/// also come from `PGPASSWORD`, so that it is in neither the URL nor `ps`.
///
/// `sslmode` is `disable`, `prefer` (the default, as libpq's) or `require`; `verify-ca` and
/// `verify-full` also check the server's certificate against the system's CAs.
public struct DatabaseURL: Sendable, CustomStringConvertible {
    /// The server's host name or address.
    public var host: String
    /// The server's port (default 5432).
    public var port: Int
    /// The user to connect as (default `postgres`).
    public var user: String
    /// The password, if any: never printed.
    var password: String?
    /// The database (default: the user's name).
    public var database: String
    /// How to use TLS.
    public var sslMode: SSLMode

    /// How a connection uses TLS, as libpq's `sslmode`.
    public enum SSLMode: String, Sendable, CaseIterable {
        /// Never.
        case disable
        /// When the server offers it.
        case prefer
        /// Always, without checking the certificate.
        case require
        /// Always, checking that a trusted CA signed the certificate.
        case verifyCA = "verify-ca"
        /// Always, checking the certificate and that it names the host.
        case verifyFull = "verify-full"
    }

    /// Parses `text`; `environment`'s `PGPASSWORD` is the password when the URL has none.
    ///
    /// - Throws: ``DatabaseURLError`` saying what is wrong, without the password.
    public init(_ text: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
            scheme == "postgres" || scheme == "postgresql"
        else {
            throw DatabaseURLError(
                "expected a URL such as postgres://USER@HOST:5432/DATABASE, got '\(Self.redacting(text))'"
            )
        }
        guard let host = components.host, !host.isEmpty else {
            throw DatabaseURLError("the database URL '\(Self.redacting(text))' names no host")
        }
        self.host = host
        self.port = components.port ?? 5432
        self.user =
            components.user.flatMap { $0.removingPercentEncoding }.flatMap { $0.isEmpty ? nil : $0 } ?? "postgres"
        self.password =
            components.password.flatMap { $0.removingPercentEncoding }
            ?? environment["PGPASSWORD"].flatMap { $0.isEmpty ? nil : $0 }
        let path = components.path.drop(while: { $0 == "/" })
        self.database = path.isEmpty ? user : String(path).removingPercentEncoding ?? String(path)
        let mode = components.queryItems?.first(where: { $0.name == "sslmode" })?.value ?? "prefer"
        guard let sslMode = SSLMode(rawValue: mode) else {
            let modes = SSLMode.allCases.map(\.rawValue).joined(separator: ", ")
            throw DatabaseURLError("sslmode '\(mode)' is not one of \(modes)")
        }
        self.sslMode = sslMode
    }

    /// The URL without its password: `postgres://app@db.internal:5432/pacer`.
    public var description: String {
        "postgres://\(user)@\(host.contains(":") ? "[\(host)]" : host):\(port)/\(database)"
            + (sslMode == .prefer ? "" : "?sslmode=\(sslMode.rawValue)")
    }

    /// The client configuration for this URL.
    public var clientConfiguration: PostgresClient.Configuration {
        var tls: PostgresClient.Configuration.TLS
        var settings = TLSConfiguration.makeClientConfiguration()
        switch sslMode {
        case .disable:
            tls = .disable
        case .prefer, .require:
            settings.certificateVerification = .none
            tls = sslMode == .prefer ? .prefer(settings) : .require(settings)
        case .verifyCA:
            settings.certificateVerification = .noHostnameVerification
            tls = .require(settings)
        case .verifyFull:
            tls = .require(settings)
        }
        return PostgresClient.Configuration(
            host: host,
            port: port,
            username: user,
            password: password,
            database: database,
            tls: tls
        )
    }

    /// The configuration of a single connection to this URL (the pool's is
    /// ``clientConfiguration``).
    ///
    /// - Throws: When the TLS settings cannot be made.
    public func connectionConfiguration() throws -> PostgresConnection.Configuration {
        var settings = TLSConfiguration.makeClientConfiguration()
        var tls: PostgresConnection.Configuration.TLS
        switch sslMode {
        case .disable:
            tls = .disable
        case .prefer, .require:
            settings.certificateVerification = .none
            let context = try NIOSSLContext(configuration: settings)
            tls = sslMode == .prefer ? .prefer(context) : .require(context)
        case .verifyCA:
            settings.certificateVerification = .noHostnameVerification
            tls = .require(try NIOSSLContext(configuration: settings))
        case .verifyFull:
            tls = .require(try NIOSSLContext(configuration: settings))
        }
        return PostgresConnection.Configuration(
            host: host,
            port: port,
            username: user,
            password: password,
            database: database,
            tls: tls
        )
    }

    /// `text` with anything between `://user:` and `@` replaced by `***`, for messages about a
    /// URL that could not be read.
    static func redacting(_ text: String) -> String {
        guard let scheme = text.range(of: "://"), let at = text[scheme.upperBound...].lastIndex(of: "@"),
            let colon = text[scheme.upperBound..<at].firstIndex(of: ":")
        else { return text }
        return String(text[..<text.index(after: colon)]) + "***" + String(text[at...])
    }
}

/// A database URL that cannot be used; the message never holds its password.
public struct DatabaseURLError: Error, CustomStringConvertible, Sendable {
    /// What is wrong.
    public var description: String

    init(_ description: String) { self.description = description }
}
