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
    /// The user and password are everything before the last `@` of the part before the
    /// query, so a password may hold `/`, `:` or `@` (as libpq reads it); percent-encoding is
    /// decoded.
    ///
    /// - Throws: ``DatabaseURLError`` saying what is wrong. A text that cannot be read as a
    ///   URL is not shown at all: where its password would be is not known.
    public init(_ text: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        let unreadable = DatabaseURLError(
            "the database URL cannot be read (it is not shown, as it may hold a password); "
                + "expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=MODE]"
        )
        guard let schemeEnd = text.range(of: "://"),
            ["postgres", "postgresql"].contains(text[..<schemeEnd.lowerBound].lowercased())
        else { throw unreadable }
        let rest = text[schemeEnd.upperBound...]
        let query = rest.firstIndex(of: "?").map { rest[rest.index(after: $0)...] } ?? ""
        let head = rest[..<(rest.firstIndex(of: "?") ?? rest.endIndex)]
        var userinfo: Substring?
        var location = head
        if let at = head.lastIndex(of: "@") {
            userinfo = head[..<at]
            location = head[head.index(after: at)...]
        }
        guard !location.isEmpty, !location.hasPrefix("/") else {
            throw DatabaseURLError("the database URL names no host (postgres://USER@HOST/DATABASE)")
        }
        let path = location.firstIndex(of: "/").map { location[location.index(after: $0)...] } ?? ""
        guard let (host, port) = Self.hostAndPort(location[..<(location.firstIndex(of: "/") ?? location.endIndex)])
        else { throw unreadable }
        self.host = host
        self.port = port
        let user = userinfo.map { $0[..<($0.firstIndex(of: ":") ?? $0.endIndex)] }
        let password = userinfo.flatMap { info in info.firstIndex(of: ":").map { info[info.index(after: $0)...] } }
        self.user = user.flatMap { $0.isEmpty ? nil : String($0).removingPercentEncoding } ?? "postgres"
        self.password =
            password.map { String($0).removingPercentEncoding ?? String($0) }
            ?? environment["PGPASSWORD"].flatMap { $0.isEmpty ? nil : $0 }
        let name = path.drop(while: { $0 == "/" })
        guard !name.contains("/") else { throw unreadable }
        self.database = name.isEmpty ? self.user : String(name).removingPercentEncoding ?? String(name)
        var mode = "prefer"
        for pair in query.split(separator: "&") where pair.hasPrefix("sslmode=") {
            mode = String(pair.dropFirst("sslmode=".count))
        }
        guard let sslMode = SSLMode(rawValue: mode) else {
            let modes = SSLMode.allCases.map(\.rawValue).joined(separator: ", ")
            throw DatabaseURLError("sslmode '\(mode)' is not one of \(modes)")
        }
        self.sslMode = sslMode
    }

    /// `HOST`, `HOST:PORT`, `[V6]` or `[V6]:PORT`; `nil` when it is not one of those.
    private static func hostAndPort(_ text: Substring) -> (String, Int)? {
        var host = text
        var port: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            let after = text[text.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return nil }
                port = after.dropFirst()
            }
        } else if let colon = text.firstIndex(of: ":") {
            host = text[..<colon]
            port = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, !host.contains(where: { " @/?#".contains($0) }) else { return nil }
        guard let port else { return (String(host), 5432) }
        guard let number = Int(port), (1...65535).contains(number) else { return nil }
        return (String(host), number)
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
}

/// A database URL that cannot be used; the message never holds its password.
public struct DatabaseURLError: Error, CustomStringConvertible, Sendable {
    /// What is wrong.
    public var description: String

    init(_ description: String) { self.description = description }
}
