import PacerCore
import Synchronization

/// How the simulator enforces `--rpm` and `--tpm`, the two ways real servers do.
public enum LimitWindow: String, Sendable, Hashable, CaseIterable {
    /// A bucket holding one second's worth, refilled continuously: 600 RPM is enforced as
    /// about 10 per second, as OpenAI documents.
    case quantized
    /// At most the limit in any 60-second window.
    case sliding
}

/// The simulator's own rate limits: decides 429s and computes the `x-ratelimit-*` headers.
final class SimulatorLimiter: Sendable {
    /// One limit (requests or tokens) in one of the two window kinds.
    struct Meter: Sendable {
        let limit: Double
        let window: LimitWindow
        // quantized: available units and when they were last refilled
        var available: Double
        var refilledAt: Double
        // sliding: (time, units) charged in the last 60 s, oldest first
        var charges: [(time: Double, units: Double)] = []

        init(limit: Int, window: LimitWindow) {
            self.limit = Double(limit)
            self.window = window
            self.available = Double(limit) / 60
            self.refilledAt = 0
        }

        var capacity: Double { window == .quantized ? limit / 60 : limit }
        var rate: Double { limit / 60 }

        mutating func update(now: Double) {
            switch window {
            case .quantized:
                available = min(capacity, available + (now - refilledAt) * rate)
                refilledAt = now
            case .sliding:
                charges.removeAll { now - $0.time >= 60 }
                available = limit - charges.reduce(0) { $0 + $1.units }
            }
        }

        /// Seconds until `units` more would fit.
        func wait(for units: Double, now: Double) -> Double {
            switch window {
            case .quantized:
                // A request larger than the bucket goes through when the bucket is full (and
                // runs it into debt), or it could never be served.
                return max(0, (min(units, capacity) - available) / rate)
            case .sliding:
                if available >= units { return 0 }
                var freed = available
                for charge in charges {
                    freed += charge.units
                    if freed >= units { return max(0, charge.time + 60 - now) }
                }
                return 60
            }
        }

        /// Seconds until the meter is whole again.
        func reset(now: Double) -> Double {
            switch window {
            case .quantized: return max(0, (capacity - available) / rate)
            case .sliding: return charges.last.map { max(0, $0.time + 60 - now) } ?? 0
            }
        }

        mutating func charge(_ units: Double, now: Double) {
            available -= units
            if window == .sliding { charges.append((now, units)) }
        }
    }

    /// The verdict on one request and the headers to send with the answer.
    struct Verdict {
        var allowed: Bool
        var retryAfter: Double?
        var message: String?
        var headers: [(String, String)]
    }

    private let state: Mutex<(requests: Meter?, tokens: Meter?)>
    private let clock = ContinuousClock()
    private let origin: ContinuousClock.Instant

    init(rpm: Int?, tpm: Int?, window: LimitWindow) {
        self.state = Mutex((rpm.map { Meter(limit: $0, window: window) }, tpm.map { Meter(limit: $0, window: window) }))
        self.origin = clock.now
    }

    var isActive: Bool { state.withLock { $0.requests != nil || $0.tokens != nil } }

    /// Admits a request that may use `estimate` tokens and, if admitted, charges one request
    /// and `charge` tokens.
    func admit(estimate: Int, charge: Int, model: String) -> Verdict {
        let now = origin.duration(to: clock.now).pacerSeconds
        return state.withLock { meters in
            meters.requests?.update(now: now)
            meters.tokens?.update(now: now)
            var verdict = Verdict(allowed: true, headers: [])
            if let tokens = meters.tokens, Double(estimate) > tokens.limit {
                verdict.allowed = false
                verdict.message =
                    "Request too large for \(model) in organization org-pacer-simulator on tokens per min (TPM): "
                    + "Limit \(Int(tokens.limit)), Requested \(estimate). The input or output tokens must be reduced in order to run successfully."
            } else {
                let requestWait = meters.requests?.wait(for: 1, now: now) ?? 0
                let tokenWait = meters.tokens?.wait(for: Double(estimate), now: now) ?? 0
                if requestWait > 0 || tokenWait > 0 {
                    verdict.allowed = false
                    verdict.retryAfter = max(requestWait, tokenWait)
                    let (kind, meter, requested) =
                        requestWait >= tokenWait
                        ? ("requests per min (RPM)", meters.requests!, 1)
                        : ("tokens per min (TPM)", meters.tokens!, estimate)
                    verdict.message =
                        "Rate limit reached for \(model) in organization org-pacer-simulator on \(kind): "
                        + "Limit \(Int(meter.limit)), Used \(Int(meter.capacity - max(0, meter.available))), Requested \(requested). "
                        + "Please try again in \(Self.format(verdict.retryAfter ?? 0))."
                } else {
                    meters.requests?.charge(1, now: now)
                    meters.tokens?.charge(Double(charge), now: now)
                }
            }
            // In the request's API: OpenAI's x-ratelimit-*, or Anthropic's anthropic-ratelimit-*.
            let dialect = SimulatorDialect.current
            for (kind, meter) in [("requests", meters.requests), ("tokens", meters.tokens)] {
                guard let meter else { continue }
                verdict.headers += dialect.rateLimitHeaders(
                    kind: kind,
                    limit: Int(meter.limit),
                    remaining: max(0, Int(meter.available.rounded(.down))),
                    resetSeconds: meter.reset(now: now)
                )
            }
            return verdict
        }
    }

    /// Formats seconds the way OpenAI's headers do: `120ms`, `1s`, `6m0s`, `1h2m3.5s`.
    static func format(_ seconds: Double) -> String {
        if seconds < 1 { return "\(Int((seconds * 1000).rounded(.up)))ms" }
        var rest = (seconds * 1000).rounded(.up) / 1000
        var text = ""
        if rest >= 3600 {
            text += "\(Int(rest / 3600))h"
            rest = rest.truncatingRemainder(dividingBy: 3600)
        }
        if rest >= 60 || !text.isEmpty {
            text += "\(Int(rest / 60))m"
            rest = rest.truncatingRemainder(dividingBy: 60)
        }
        let secondsText = rest == rest.rounded() ? String(Int(rest)) : String((rest * 1000).rounded() / 1000)
        return text + secondsText + "s"
    }
}
