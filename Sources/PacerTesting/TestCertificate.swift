import Crypto
import Foundation
import PacerSimulator
import SwiftASN1
import X509

/// A self-signed certificate and its private key, made on the spot for tests that need HTTPS.
///
/// The certificate is its own CA (so a client trusts it with `--ca-cert` or
/// `TrustRoots`) and names each host as a subject alternative name, so that the
/// client's host name check passes.
///
/// ```swift
/// let certificate = try TestCertificate.selfSigned()
/// try await withSimulator(SimulatorConfiguration(tls: certificate.simulatorTLS())) { server in
///     // server.baseURL is https://127.0.0.1:PORT/v1
/// }
/// ```
public struct TestCertificate: Sendable, Hashable {
    /// The certificate, PEM (`-----BEGIN CERTIFICATE-----`).
    public let certificatePEM: String
    /// Its P-256 private key, PEM (PKCS#8, `-----BEGIN PRIVATE KEY-----`).
    public let privateKeyPEM: String

    /// Makes a new self-signed certificate with a new key.
    ///
    /// - Parameters:
    ///   - hosts: Names and IPv4 addresses it is valid for (default `127.0.0.1` and `localhost`).
    ///   - commonName: Its subject's common name (default `Pacer test CA`).
    ///   - validFor: How long it stays valid from now (default a day; it became valid an hour ago).
    public static func selfSigned(
        hosts: [String] = ["127.0.0.1", "localhost"],
        commonName: String = "Pacer test CA",
        validFor: Duration = .seconds(86_400)
    ) throws -> TestCertificate {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName(commonName) }
        let now = Date()
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
            Critical(KeyUsage(digitalSignature: true, keyCertSign: true))
            try ExtendedKeyUsage([.serverAuth])
            SubjectAlternativeNames(hosts.map(generalName))
        }
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: Certificate.PublicKey(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3600),
            notValidAfter: now.addingTimeInterval(TimeInterval(validFor.components.seconds)),
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: extensions,
            issuerPrivateKey: Certificate.PrivateKey(key)
        )
        return TestCertificate(
            certificatePEM: try certificate.serializeAsPEM().pemString,
            privateKeyPEM: key.pemRepresentation
        )
    }

    /// The simulator's TLS settings for this certificate.
    public func simulatorTLS() throws -> SimulatorTLS {
        try SimulatorTLS(certificatePEM: certificatePEM, privateKeyPEM: privateKeyPEM)
    }

    /// An IPv4 address as an `iPAddress` name, anything else as a `dNSName`.
    private static func generalName(_ host: String) -> GeneralName {
        let parts = host.split(separator: ".", omittingEmptySubsequences: false).compactMap { UInt8($0) }
        guard parts.count == 4, host.split(separator: ".", omittingEmptySubsequences: false).count == 4 else {
            return .dnsName(host)
        }
        return .ipAddress(ASN1OctetString(contentBytes: ArraySlice(parts)))
    }
}
