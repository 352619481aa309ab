extension HTTPTransport {
    /// Pool, TLS and limit settings.
    ///
    /// With a client of your own (``HTTPTransport/init(client:configuration:)``), the pool, the
    /// connect timeout and the trust roots are that client's: only ``requestDeadline`` and
    /// ``maxBodyBytes`` (and the advice in messages) apply.
    public struct Configuration: Sendable, Hashable {
        /// The most connections kept open per host; match the batch's concurrency. Default 8.
        public var maxConnectionsPerHost: Int
        /// How long connecting may take. Default 10 s.
        public var connectTimeout: Duration
        /// A backstop deadline for one request; the engine's per-attempt timeout is normally
        /// shorter. Default 10 minutes.
        public var requestDeadline: Duration
        /// The largest response body accepted, in bytes. Default 16 MiB.
        public var maxBodyBytes: Int
        /// The CAs trusted for HTTPS. Default ``TrustRoots/system``.
        public var trustRoots: TrustRoots
        /// What the error for an untrusted certificate tells a person to do, after
        /// "certificate for HOST not trusted: ". Default: add the CA that signed it to
        /// ``trustRoots`` or name it in `SSL_CERT_FILE`. The CLI names its `--ca-cert` flag here.
        public var untrustedCertificateAdvice: String

        /// Creates a configuration.
        ///
        /// - Parameters:
        ///   - maxConnectionsPerHost: Connections kept per host (default 8). Must be at least 1.
        ///   - connectTimeout: Connect timeout (default 10 s).
        ///   - requestDeadline: Backstop deadline per request (default 10 min).
        ///   - maxBodyBytes: Largest accepted body (default 16 MiB).
        ///   - trustRoots: CAs trusted for HTTPS (default: the system's).
        ///   - untrustedCertificateAdvice: What to do about an untrusted certificate (see the property).
        public init(
            maxConnectionsPerHost: Int = 8,
            connectTimeout: Duration = .seconds(10),
            requestDeadline: Duration = .seconds(600),
            maxBodyBytes: Int = 16 << 20,
            trustRoots: TrustRoots = .system,
            untrustedCertificateAdvice: String =
                "add the CA that signed it to the transport's trust roots, or name it in SSL_CERT_FILE"
        ) {
            precondition(maxConnectionsPerHost >= 1, "maxConnectionsPerHost must be at least 1")
            self.maxConnectionsPerHost = maxConnectionsPerHost
            self.connectTimeout = connectTimeout
            self.requestDeadline = requestDeadline
            self.maxBodyBytes = maxBodyBytes
            self.trustRoots = trustRoots
            self.untrustedCertificateAdvice = untrustedCertificateAdvice
        }
    }
}
