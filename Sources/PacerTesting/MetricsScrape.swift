import AsyncHTTPClient
import NIOCore
import NIOHTTP1

/// One scrape of a Prometheus endpoint (`pacer … --metrics-port`), read as Prometheus reads
/// it: one value per series.
///
/// ```swift
/// let scrape = try await MetricsScrape.get("http://127.0.0.1:9464/metrics")
/// let done = scrape.sum("pacer_items_succeeded_total") + scrape.sum("pacer_items_failed_total")
/// ```
public struct MetricsScrape: Sendable, Hashable {
    /// The value of each series, by its name and labels as written:
    /// `pacer_attempts_total{outcome="success"}`.
    public let values: [String: Double]

    /// Reads the text exposition format; comment lines are skipped.
    public init(text: String) {
        var values: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                continue
            }
            values[String(line[..<space])] = value
        }
        self.values = values
    }

    /// Scrapes `url`.
    ///
    /// - Throws: ``Failure`` for an answer other than 200, or the client's error (nothing
    ///   listens, a timeout).
    public static func get(_ url: String, timeout: Duration = .seconds(5)) async throws -> MetricsScrape {
        let (seconds, attoseconds) = timeout.components
        let response = try await HTTPClient.shared.execute(
            HTTPClientRequest(url: url),
            timeout: .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        )
        let body = try await response.body.collect(upTo: 16 << 20)
        guard response.status == .ok else { throw Failure(status: Int(response.status.code)) }
        return MetricsScrape(text: String(buffer: body))
    }

    /// A scrape answered with another status than 200.
    public struct Failure: Error, Hashable {
        /// The status.
        public var status: Int
    }

    /// The value of an unlabelled series, or of the series of `name` whose only label is
    /// `label="value"`; `nil` when there is none.
    public func value(_ name: String, _ label: String? = nil, _ labelValue: String? = nil) -> Double? {
        guard let label, let labelValue else { return values[name] }
        return values["\(name){\(label)=\"\(labelValue)\"}"]
    }

    /// The sum of every series of `name`, labelled or not (a histogram's `_bucket`, `_sum` and
    /// `_count` are series of other names).
    public func sum(_ name: String) -> Double {
        values.reduce(0) { total, entry in
            entry.key == name || entry.key.hasPrefix(name + "{") ? total + entry.value : total
        }
    }
}
