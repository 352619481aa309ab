import NIOCore
import NIOPosix
import PacerCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension HTTPFailure {
    /// The socket errors another attempt may get past: the server restarting or overloaded, a
    /// network that flaps, local resources briefly exhausted.
    static let transientErrnos: Set<CInt> = [
        ECONNREFUSED, ECONNRESET, ECONNABORTED, EPIPE, ETIMEDOUT, EHOSTUNREACH, ENETUNREACH, ENETDOWN,
        EHOSTDOWN, EADDRNOTAVAIL, EAGAIN, EINTR, ENOBUFS, EMFILE, ENFILE,
    ]

    static func classify(_ error: NIOConnectionError, _ context: Context) -> ItemError {
        if let dns = (error.dnsAError ?? error.dnsAAAAError) as? SocketAddressError.UnknownHost {
            return dnsFailure(code: dns.errorCode, reason: dns.errorDescription, context)
        }
        if error.dnsAError != nil || error.dnsAAAAError != nil, error.connectionErrors.isEmpty {
            return ItemError(kind: .network, message: "cannot resolve \(context.host)", isRetryable: true)
        }
        // Several addresses may have been tried: one transient failure makes the whole retryable.
        let failures = error.connectionErrors.map { self.error(classifying: $0.error, context: context) }
        return failures.first(where: \.isRetryable) ?? failures.first
            ?? ItemError(kind: .network, message: "could not connect to \(context.address)", isRetryable: true)
    }

    /// `getaddrinfo` failed: retryable only when the resolver says the failure is temporary.
    static func dnsFailure(code: Int, reason: String, _ context: Context) -> ItemError {
        if code == Int(EAI_AGAIN) {
            return ItemError(
                kind: .network,
                message: "DNS lookup of \(context.host) failed for now (\(reason))",
                isRetryable: true
            )
        }
        return ItemError(
            kind: .network,
            message: "cannot resolve \(context.host) (\(reason)); check the URL's host",
            isRetryable: false
        )
    }

    static func connectionFailure(errno code: CInt, _ context: Context) -> ItemError {
        let reason = String(cString: strerror(code)).lowercased()
        if code == ECONNREFUSED {
            return ItemError(kind: .network, message: "connection refused by \(context.address)", isRetryable: true)
        }
        if code == ECONNRESET || code == EPIPE || code == ECONNABORTED {
            return closedEarly(context, detail: reason)
        }
        return ItemError(
            kind: .network,
            message: "could not connect to \(context.address): \(reason)",
            isRetryable: transientErrnos.contains(code)
        )
    }
}
