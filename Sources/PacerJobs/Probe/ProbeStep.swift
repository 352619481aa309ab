import PacerCore

/// What one step of `pacer probe` measured: a fixed number of requests kept in flight for a
/// bounded time.
package struct ProbeStep: Sendable, Hashable, Codable {
    /// Requests kept in flight.
    package var concurrency: Int
    /// Requests answered with success.
    package var succeeded: Int
    /// Requests that failed (any error: refused, timed out, cut off).
    package var errors: Int
    /// Of ``errors``: answered 503, or 429 (overloaded or over a limit).
    package var refused: Int
    /// Output (completion) tokens of the successful answers.
    package var outputTokens: Int
    /// From the step's start to its last answer, in seconds.
    package var seconds: Double
    /// Latency of the successful requests, in milliseconds.
    package var latency: LatencyStats
    /// Time to first token of the successful requests, in milliseconds, when streamed.
    package var timeToFirstToken: LatencyStats?

    /// A step with these measurements.
    package init(
        concurrency: Int,
        succeeded: Int,
        errors: Int,
        refused: Int,
        outputTokens: Int,
        seconds: Double,
        latency: LatencyStats,
        timeToFirstToken: LatencyStats?
    ) {
        self.concurrency = concurrency
        self.succeeded = succeeded
        self.errors = errors
        self.refused = refused
        self.outputTokens = outputTokens
        self.seconds = seconds
        self.latency = latency
        self.timeToFirstToken = timeToFirstToken
    }

    /// Successful requests per second.
    package var requestsPerSecond: Double { seconds > 0 ? Double(succeeded) / seconds : 0 }
    /// Output tokens per second.
    package var outputTokensPerSecond: Double { seconds > 0 ? Double(outputTokens) / seconds : 0 }
    /// The share of requests that failed.
    package var errorRate: Double {
        let all = succeeded + errors
        return all > 0 ? Double(errors) / Double(all) : 0
    }
    /// The throughput the sweep compares: output tokens per second, or requests per second
    /// for an endpoint that reports no tokens.
    package var throughput: Double { outputTokens > 0 ? outputTokensPerSecond : requestsPerSecond }
}

/// Collects one step's samples (a few thousand at most) and sums them up.
package struct ProbeSamples: Sendable {
    private var latencies: [Double] = []
    private var firstTokens: [Double] = []
    private var errors = 0
    private var refused = 0
    private var outputTokens = 0

    /// Records a success: its latency, its time to first token if streamed, its tokens.
    package mutating func succeeded(latency: Duration, timeToFirstToken: Duration?, outputTokens: Int) {
        latencies.append(latency.pacerSeconds * 1000)
        if let timeToFirstToken { firstTokens.append(timeToFirstToken.pacerSeconds * 1000) }
        self.outputTokens += outputTokens
    }

    /// Records a failure.
    package mutating func failed(_ error: ItemError) {
        errors += 1
        if error.status == 503 || error.status == 429 { refused += 1 }
    }

    /// Adds another worker's samples.
    package mutating func merge(_ other: ProbeSamples) {
        latencies += other.latencies
        firstTokens += other.firstTokens
        errors += other.errors
        refused += other.refused
        outputTokens += other.outputTokens
    }

    /// The step these samples make.
    package func step(concurrency: Int, seconds: Double) -> ProbeStep {
        ProbeStep(
            concurrency: concurrency,
            succeeded: latencies.count,
            errors: errors,
            refused: refused,
            outputTokens: outputTokens,
            seconds: seconds,
            latency: Self.percentiles(latencies),
            timeToFirstToken: firstTokens.isEmpty ? nil : Self.percentiles(firstTokens)
        )
    }

    /// Nearest-rank percentiles of `values`.
    package static func percentiles(_ values: [Double]) -> LatencyStats {
        guard !values.isEmpty else { return LatencyStats() }
        let sorted = values.sorted()
        func rank(_ percentile: Double) -> Double {
            let index = Int((percentile / 100 * Double(sorted.count)).rounded(.up)) - 1
            return sorted[min(max(index, 0), sorted.count - 1)]
        }
        return LatencyStats(p50: rank(50), p90: rank(90), p99: rank(99), max: sorted[sorted.count - 1])
    }
}

/// The steps of a sweep and what they recommend.
package struct ProbeReport: Sendable, Hashable, Codable {
    /// The steps, by concurrency.
    package var steps: [ProbeStep]

    /// A report of `steps`.
    package init(steps: [ProbeStep]) { self.steps = steps }

    /// The largest error share a recommended step may have.
    static let tolerableErrorRate = 0.02
    /// A step within this share of the best throughput counts as reaching it.
    static let nearBest = 0.95

    /// The concurrency to use: the smallest that reaches 95% of the best throughput of any
    /// step with at most 2% errors — past it, more requests in flight only queue, and
    /// latency grows for nothing. `nil` when no step qualifies.
    package var recommended: Int? {
        let clean = steps.filter { $0.errorRate <= Self.tolerableErrorRate && $0.succeeded > 0 }
        guard let best = clean.map(\.throughput).max() else { return nil }
        return clean.filter { $0.throughput >= best * Self.nearBest }.map(\.concurrency).min()
    }

    /// The concurrencies a sweep up to `maximum` tries: 1, 2, 4, … and `maximum` itself.
    package static func concurrencies(upTo maximum: Int, from minimum: Int = 1) -> [Int] {
        var levels: [Int] = []
        var level = max(1, minimum)
        while level < maximum {
            levels.append(level)
            level *= 2
        }
        levels.append(maximum)
        return levels
    }

    /// The table printed for people: one row per step.
    package var table: [String] {
        let streamed = steps.contains { $0.timeToFirstToken != nil }
        var header = ["concurrency", "req/s", "out tok/s"]
        if streamed { header += ["ttft p50", "ttft p99"] }
        header += ["lat p50", "lat p99", "errors"]
        var rows = [header]
        for step in steps {
            var row = [
                String(step.concurrency),
                SummaryText.format(step.requestsPerSecond, digits: 2),
                SummaryText.format(step.outputTokensPerSecond, digits: 1),
            ]
            if streamed {
                row += [
                    step.timeToFirstToken.map { SummaryText.ms($0.p50) } ?? "-",
                    step.timeToFirstToken.map { SummaryText.ms($0.p99) } ?? "-",
                ]
            }
            row += [
                SummaryText.ms(step.latency.p50), SummaryText.ms(step.latency.p99),
                step.errors == 0 ? "0" : "\(step.errors) (\(step.refused) refused)",
            ]
            rows.append(row)
        }
        let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            zip(row, widths).map { cell, width in String(repeating: " ", count: width - cell.count) + cell }
                .joined(separator: "  ")
        }
    }
}
