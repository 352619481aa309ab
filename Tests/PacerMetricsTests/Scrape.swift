import PacerMetrics
import PacerTesting
import Prometheus

extension MetricsScrape {
    /// Refreshes `metrics` and reads `registry`, as the server does for a scrape.
    init(registry: PrometheusCollectorRegistry, metrics: RunMetrics) {
        metrics.refresh()
        self.init(text: registry.emitToString())
    }

    /// The value of an unlabelled metric, or of one series of a labelled one.
    subscript(name: RunMetrics.Name, label: String? = nil, value: String? = nil) -> Double? {
        self.value(name.rawValue, label, value)
    }

    /// The sum of every series of a metric.
    func sum(_ name: RunMetrics.Name) -> Double { sum(name.rawValue) }

    /// The number of observations of a histogram.
    func histogramCount(_ name: RunMetrics.Name) -> Double? { values[name.rawValue + "_count"] }
}
