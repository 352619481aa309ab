import PacerHTTP
import PacerJobs

extension RunOptions {
    /// The transport these options describe: a connection per worker, and for HTTPS the CAs the
    /// system trusts (or those `SSL_CERT_FILE`/`SSL_CERT_DIR` name, as for curl and httpx), plus
    /// `--ca-cert`'s.
    ///
    /// - Parameter environment: The process environment.
    /// - Throws: ``InputError`` (exit status 2) naming `--ca-cert`, `SSL_CERT_FILE` or `SSL_CERT_DIR`
    ///   when the file or folder cannot be used: better than a failed handshake per item.
    func transportConfiguration(environment: [String: String]) throws(InputError) -> HTTPTransport.Configuration {
        try Self.transportConfiguration(caCert: caCert, connections: concurrency, environment: environment)
    }

    /// The transport for `connections` requests in flight, trusting `caCert` besides the
    /// system's (or `SSL_CERT_FILE`'s) CAs.
    static func transportConfiguration(
        caCert: String?,
        connections: Int,
        environment: [String: String]
    ) throws(InputError) -> HTTPTransport.Configuration {
        var roots: TrustRoots
        do {
            roots = try TrustRoots.environment(environment)
            if let caCert { roots = try roots.adding(pemFile: caCert) }
        } catch {
            throw InputError(file: error.variable ?? "--ca-cert", message: "\(error.path): \(error.message)")
        }
        return HTTPTransport.Configuration(
            maxConnectionsPerHost: connections,
            trustRoots: roots,
            untrustedCertificateAdvice: "pass --ca-cert FILE (the CA that signed it), or name it in SSL_CERT_FILE"
        )
    }
}
