import Foundation
import PacerCore

/// The human summary printed to stderr at the end of a batch, in the reference solutions'
/// terms (completed, time, items/s, tokens, est. cost) plus retries, latency and concurrency.
package enum SummaryText {
    package static func lines(_ summary: BatchSummary, unit: String, concurrency: Int, showTokens: Bool) -> [String] {
        var lines = [
            "Completed: \(summary.succeeded)/\(summary.total) successful"
                + (summary.failed > 0 ? ", \(summary.failed) failed" : "")
                + (summary.cancelled > 0 ? ", \(summary.cancelled) not done" : "")
                + (summary.skipped > 0 ? " (\(summary.skipped) skipped: done in an earlier run)" : ""),
            "Time: \(format(summary.wallSeconds, digits: 2))s (\(format(summary.itemsPerSecond, digits: 1)) \(unit)/sec)",
            "Retries: \(summary.retries)"
                + (summary.rateLimitedResponses > 0 ? " (\(summary.rateLimitedResponses) answered 429)" : ""),
            "Latency: p50 \(ms(summary.latency.p50)) · p90 \(ms(summary.latency.p90)) · p99 \(ms(summary.latency.p99)) · max \(ms(summary.latency.max))",
            "Concurrency: \(format(summary.effectiveConcurrency, digits: 1)) effective of \(concurrency)"
                + (summary.concurrencyLimit.map { " (auto: the limit settled at \($0))" } ?? ""),
            "Rate: \(Int(summary.requestsPerMinute.rounded())) requests/min"
                + (showTokens ? ", \(Int(summary.tokensPerMinute.rounded())) tokens/min" : "")
                + (summary.pausedSeconds > 0
                    ? "; paused \(format(summary.pausedSeconds, digits: 1))s at the server's request" : ""),
        ]
        lines += failureLines(summary.failureReasons)
        if let deployments = summary.deployments {
            lines.append("Deployments:")
            for deployment in deployments {
                var line =
                    "  \(deployment.name): \(deployment.requests) requests, \(deployment.rateLimited) answered 429, "
                    + "\(deployment.failed) failed, \(deployment.tokens.total) tokens"
                if let cost = deployment.costUSD { line += ", $\(format(cost, digits: 4))" }
                if deployment.cooldowns > 0 { line += "; left out \(deployment.cooldowns) times" }
                lines.append(line)
            }
        }
        if showTokens {
            let tokens = summary.tokens
            lines.append("Total tokens: \(tokens.total) (prompt \(tokens.prompt), completion \(tokens.completion))")
            lines.append("Output: \(format(summary.outputTokensPerSecond, digits: 1)) tokens/s")
            if let streaming = summary.streaming {
                let first = streaming.timeToFirstToken
                let gap = streaming.interTokenLatency
                let speed = streaming.outputTokensPerSecond
                lines.append(
                    "Time to first token: p50 \(ms(first.p50)) · p90 \(ms(first.p90)) · p99 \(ms(first.p99)) (\(streaming.items) streamed)"
                )
                lines.append(
                    "Per item: p50 \(format(speed.p50, digits: 1)) tokens/s (slowest tenth \(format(speed.p10, digits: 1))) · "
                        + "inter-token p50 \(ms(gap.p50)) · p99 \(ms(gap.p99))"
                )
            }
            lines.append("Est. cost: \(cost(summary))")
            if summary.cached > 0 {
                lines.append(
                    "Cache: \(summary.cached) answers kept from an earlier run, \(summary.cached) requests not sent"
                        + (summary.cacheSavedUSD.map { ", about $\(format($0, digits: 4)) saved" } ?? "")
                )
            }
            if summary.breakdown.count > 1 {
                for part in summary.breakdown {
                    let tokens = part.tokens
                    var price = part.costUSD.map { "$" + format($0, digits: 4) } ?? "cost unknown"
                    if part.costUSD != nil, part.itemsWithUnknownCost > 0 {
                        price += " + unknown for \(part.itemsWithUnknownCost) items"
                    }
                    lines.append(
                        "  \(part.key.endpoint) · \(part.key.model): \(part.items) ok, \(tokens.total) tokens "
                            + "(prompt \(tokens.prompt), completion \(tokens.completion)), \(price)"
                    )
                }
            }
        }
        return lines
    }

    /// "Failed:" and a line per reason (`  5 × network: …`); nothing when none failed.
    package static func failureLines(_ reasons: [FailureReason]) -> [String] {
        guard !reasons.isEmpty else { return [] }
        return ["Failed because:"]
            + reasons.map { reason in
                let kind = reason.status.map { "\(reason.kind) \($0)" } ?? reason.kind
                return "  \(reason.count) × \(kind): \(reason.message)"
            }
    }

    package static func cost(_ summary: BatchSummary) -> String {
        guard let cost = summary.costUSD else {
            return summary.itemsWithUnknownCost > 0 ? "unknown (model not in the price table)" : "$0.0000"
        }
        let known = "$" + format(cost, digits: 4)
        return summary.itemsWithUnknownCost > 0 ? "\(known) + unknown for \(summary.itemsWithUnknownCost) items" : known
    }

    package static func ms(_ value: Double) -> String {
        value >= 10_000 ? "\(format(value / 1000, digits: 1))s" : "\(Int(value.rounded()))ms"
    }

    package static func format(_ value: Double, digits: Int) -> String {
        String(format: "%.\(digits)f", value)
    }
}
