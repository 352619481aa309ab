import Foundation
import NIOSSL

/// The certificate authorities an ``HTTPTransport`` trusts for HTTPS.
///
/// ``system`` by default. ``environment(_:)`` honours `SSL_CERT_FILE` and `SSL_CERT_DIR` as
/// OpenSSL, curl and Python's httpx do: when either is set, it replaces the system's bundle.
/// ``adding(pemFile:)`` trusts the certificates of one more file on top of that, so that one
/// batch can reach a server with a private CA (self-hosted, or a corporate gateway) and public
/// ones alike.
///
/// Files are read when the value is made, so a missing or unusable file is an error at once,
/// not a failed handshake per request.
///
/// ```swift
/// let roots = try TrustRoots.environment(ProcessInfo.processInfo.environment).adding(pemFile: "ca.pem")
/// let transport = HTTPTransport(configuration: .init(trustRoots: roots))
/// ```
public struct TrustRoots: Sendable, Hashable {
    /// The system's bundle, or the one `SSL_CERT_FILE` / `SSL_CERT_DIR` name.
    private enum Base: Sendable, Hashable {
        case system
        case file([NIOSSLCertificate])
        case directory(String, file: [NIOSSLCertificate])
    }

    private var base: Base
    private var extra: [NIOSSLCertificate]

    private init(base: Base, extra: [NIOSSLCertificate] = []) {
        self.base = base
        self.extra = extra
    }

    /// The CAs the operating system trusts.
    public static let system = TrustRoots(base: .system)

    /// The system's CAs, or those that `SSL_CERT_FILE` (a PEM bundle) and `SSL_CERT_DIR` (a folder
    /// prepared with `c_rehash`/`openssl rehash`) name, instead.
    ///
    /// - Parameter environment: The process environment.
    /// - Throws: ``TrustRootsError`` when a variable names a file that cannot be read or holds no
    ///   certificate, or a folder that does not exist.
    public static func environment(_ environment: [String: String]) throws(TrustRootsError) -> TrustRoots {
        let file = environment["SSL_CERT_FILE"].flatMap { $0.isEmpty ? nil : $0 }
        let directory = environment["SSL_CERT_DIR"].flatMap { $0.isEmpty ? nil : $0 }
        var fileCertificates: [NIOSSLCertificate]?
        if let file { fileCertificates = try loadPEM(file, variable: "SSL_CERT_FILE") }
        if let directory {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue
            else {
                throw TrustRootsError(path: directory, variable: "SSL_CERT_DIR", message: "no such folder")
            }
            return TrustRoots(base: .directory(directory, file: fileCertificates ?? []))
        }
        return fileCertificates.map { TrustRoots(base: .file($0)) } ?? .system
    }

    /// These roots, and the certificates in a PEM file.
    ///
    /// - Parameter path: A file of one or more `-----BEGIN CERTIFICATE-----` blocks.
    /// - Throws: ``TrustRootsError`` when the file cannot be read or holds no certificate.
    public func adding(pemFile path: String) throws(TrustRootsError) -> TrustRoots {
        TrustRoots(base: base, extra: extra + (try Self.loadPEM(path, variable: nil)))
    }

    /// These roots, and the certificates in PEM text (from a secret store, say).
    ///
    /// - Throws: ``TrustRootsError`` (with `path` set to `"<PEM>"`) when the text holds no certificate.
    public func adding(pem: String) throws(TrustRootsError) -> TrustRoots {
        TrustRoots(base: base, extra: extra + (try Self.parsePEM(Array(pem.utf8), path: "<PEM>", variable: nil)))
    }

    /// Sets the trust roots of a client TLS configuration.
    func apply(to tls: inout TLSConfiguration) {
        let extraRoots: [NIOSSLAdditionalTrustRoots] = extra.isEmpty ? [] : [.certificates(extra)]
        switch base {
        case .system:
            tls.trustRoots = .default
            tls.additionalTrustRoots = extraRoots
        case .file(let certificates):
            tls.trustRoots = .certificates(certificates + extra)
            tls.additionalTrustRoots = []
        case .directory(let path, let file):
            tls.trustRoots = .file(path)
            tls.additionalTrustRoots = file.isEmpty && extra.isEmpty ? [] : [.certificates(file + extra)]
        }
    }

    private static func loadPEM(_ path: String, variable: String?) throws(TrustRootsError) -> [NIOSSLCertificate] {
        guard FileManager.default.fileExists(atPath: path) else {
            throw TrustRootsError(path: path, variable: variable, message: "no such file")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TrustRootsError(path: path, variable: variable, message: "cannot read the file")
        }
        return try parsePEM(Array(data), path: path, variable: variable)
    }

    private static func parsePEM(
        _ bytes: [UInt8],
        path: String,
        variable: String?
    ) throws(TrustRootsError) -> [NIOSSLCertificate] {
        let certificates = try? NIOSSLCertificate.fromPEMBytes(bytes)
        guard let certificates, !certificates.isEmpty else {
            throw TrustRootsError(
                path: path,
                variable: variable,
                message: "holds no PEM certificate (expected -----BEGIN CERTIFICATE----- blocks)"
            )
        }
        return certificates
    }
}

/// A CA certificate file or folder that cannot be used.
public struct TrustRootsError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The file or folder.
    public var path: String
    /// The environment variable that named it, if one did (`SSL_CERT_FILE`, `SSL_CERT_DIR`).
    public var variable: String?
    /// What is wrong with it.
    public var message: String

    /// Creates an error.
    public init(path: String, variable: String? = nil, message: String) {
        self.path = path
        self.variable = variable
        self.message = message
    }

    /// One line: `SSL_CERT_FILE=/etc/ca.pem: no such file`, or `ca.pem: no such file`.
    public var description: String {
        (variable.map { "\($0)=" } ?? "") + "\(path): \(message)"
    }
}
