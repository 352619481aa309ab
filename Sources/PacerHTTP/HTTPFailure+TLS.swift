import Foundation
import NIOSSL
import PacerCore

extension HTTPFailure {
    /// A TLS failure: an untrusted certificate or a failed handshake is permanent (the same
    /// certificate comes back next time); a connection closed mid-handshake may pass.
    static func classify(_ error: NIOSSLError, _ context: Context) -> ItemError {
        switch error {
        case .handshakeFailed(.sslError(let stack)), .handshakeFailed(.unknownError(let stack)):
            if stack.contains(.eofDuringHandshake) {
                return closedEarly(context, detail: "during the TLS handshake")
            }
            let reasons = stack.compactMap { reason(of: $0) }
            if reasons.contains("CERTIFICATE_VERIFY_FAILED") {
                return untrusted(context)
            }
            let detail = reasons.isEmpty ? "" : " (\(reasons.joined(separator: ", ")))"
            return ItemError(
                kind: .network,
                message: "TLS handshake with \(context.address) failed\(detail); is it an https port?",
                isRetryable: false
            )
        case .handshakeFailed(.syscallError), .uncleanShutdown:
            return closedEarly(context, detail: "TLS connection closed")
        default:
            return ItemError(
                kind: .network,
                message: "TLS with \(context.address) failed (\(error))",
                isRetryable: false
            )
        }
    }

    static func classify(_ error: NIOSSLExtraError, _ context: Context) -> ItemError {
        if error == .failedToValidateHostname || error == .serverHostnameImpossibleToMatch {
            return ItemError(
                kind: .network,
                message:
                    "certificate of \(context.address) is not for \(context.host): use the host name it was issued for",
                isRetryable: false
            )
        }
        return ItemError(kind: .network, message: "TLS with \(context.address) failed (\(error))", isRetryable: false)
    }

    static func untrusted(_ context: Context) -> ItemError {
        ItemError(
            kind: .network,
            message: "certificate for \(context.host) not trusted: \(context.untrustedCertificateAdvice)",
            isRetryable: false
        )
    }

    /// `CERTIFICATE_VERIFY_FAILED` from `Error: 268435581 error:1000007d:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED at /path/handshake.cc:360`:
    /// the reason without BoringSSL's source path.
    static func reason(of error: BoringSSLInternalError) -> String? {
        let text = error.description
        guard let start = text.range(of: "error:") else { return nil }
        let code = text[start.upperBound...].components(separatedBy: " at ").first ?? ""
        return code.split(separator: ":").last.map(String.init)
    }
}
