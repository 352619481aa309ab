import CoreMetrics
import PacerCore
import Synchronization

/// One counter per `ItemError/Kind` under one metric name, made up front for every kind
/// the engine has (so each series is there from the first scrape, at 0), and looked up by
/// comparing kinds rather than by a dictionary of strings.
final class KindCounters: Sendable {
    /// The kinds a failure may have, in a stable order.
    static let knownKinds: [ItemError.Kind] = [
        .rateLimited, .timeout, .httpStatus, .network, .invalidResponse, .cancelled, .invalidInput,
    ]

    private let name: RunMetrics.Name
    private let label: String
    private let factory: any MetricsFactory
    private let known: [(kind: ItemError.Kind, counter: Counter)]
    /// Counters of kinds added to the engine after this table, made when first seen.
    private let others = Mutex<[String: Counter]>([:])

    /// Makes a counter `name{label="kind"}` for each of `kinds`.
    init(name: RunMetrics.Name, label: String, kinds: [ItemError.Kind] = knownKinds, factory: any MetricsFactory) {
        self.name = name
        self.label = label
        self.factory = factory
        known = kinds.map { kind in
            (kind, Counter(label: name.rawValue, dimensions: [(label, kind.rawValue)], factory: factory))
        }
    }

    /// The counter of `kind`.
    subscript(kind: ItemError.Kind) -> Counter {
        for entry in known where entry.kind == kind { return entry.counter }
        return others.withLock { others in
            if let counter = others[kind.rawValue] { return counter }
            let counter = Counter(label: name.rawValue, dimensions: [(label, kind.rawValue)], factory: factory)
            others[kind.rawValue] = counter
            return counter
        }
    }
}
