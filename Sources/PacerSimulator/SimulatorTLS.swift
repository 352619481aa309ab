import Foundation
import NIOSSL

/// A certificate chain and its private key, for a simulator that serves HTTPS.
///
/// Parsed when made, so a file that is not PEM fails here with its name rather than at the
/// first handshake.
///
/// ```swift
/// let tls = try SimulatorTLS(certificateFile: "cert.pem", privateKeyFile: "key.pem")
/// try await Simulator.withRunning(SimulatorConfiguration(tls: tls)) { server in
///     print(server.baseURL)  // https://127.0.0.1:PORT/v1
/// }
/// ```
public struct SimulatorTLS: Sendable, Hashable {
    private let chain: [NIOSSLCertificate]
    private let key: NIOSSLPrivateKey

    /// Creates the TLS settings from PEM text.
    ///
    /// - Parameters:
    ///   - certificatePEM: The server's certificate, then any intermediates.
    ///   - privateKeyPEM: The certificate's private key (PKCS#8, SEC1 or PKCS#1).
    /// - Throws: ``SimulatorError`` when either holds no usable PEM.
    public init(certificatePEM: String, privateKeyPEM: String) throws {
        try self.init(
            certificate: Array(certificatePEM.utf8),
            key: Array(privateKeyPEM.utf8),
            names: ("certificate", "private key")
        )
    }

    /// Creates the TLS settings from PEM files (as `pacer simulate --tls-cert --tls-key` does).
    ///
    /// - Throws: ``SimulatorError`` naming the file that cannot be read or holds no usable PEM.
    public init(certificateFile: String, privateKeyFile: String) throws {
        func read(_ path: String) throws -> [UInt8] {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw SimulatorError(message: "\(path): cannot read the file")
            }
            return Array(data)
        }
        try self.init(
            certificate: try read(certificateFile),
            key: try read(privateKeyFile),
            names: (certificateFile, privateKeyFile)
        )
    }

    private init(certificate: [UInt8], key: [UInt8], names: (certificate: String, key: String)) throws {
        guard let chain = try? NIOSSLCertificate.fromPEMBytes(certificate), !chain.isEmpty else {
            throw SimulatorError(message: "\(names.certificate): no PEM certificate (-----BEGIN CERTIFICATE-----)")
        }
        guard let key = try? NIOSSLPrivateKey(bytes: key, format: .pem) else {
            throw SimulatorError(message: "\(names.key): no PEM private key (-----BEGIN PRIVATE KEY-----)")
        }
        self.chain = chain
        self.key = key
    }

    /// The server side TLS configuration.
    var serverConfiguration: TLSConfiguration {
        TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) },
            privateKey: .privateKey(key)
        )
    }
}
