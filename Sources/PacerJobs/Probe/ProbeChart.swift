import Foundation
import PacerCore

/// Draws a probe's sweep as an SVG chart a person reads at a glance: throughput (left axis)
/// and latency p50 and p99 (right axis) against concurrency (a log₂ axis), the recommended
/// concurrency marked. Plain SVG 1.1, no script, no external resources: any browser or
/// image viewer shows it.
///
/// Each point is a `circle` whose `class` names its series (`throughput`, `latency-p50`,
/// `latency-p99`) and whose `data-concurrency` and `data-value` give its step, so that a
/// program can read the chart back.
package struct ProbeChart {
    package var report: ProbeReport
    package var title: String

    /// A chart of `report`, titled `title`.
    package init(report: ProbeReport, title: String) {
        self.report = report
        self.title = title
    }

    static let width = 760.0
    static let height = 440.0
    /// The plot area.
    static let left = 80.0
    static let right = 680.0
    static let top = 60.0
    static let bottom = 370.0

    private static let throughputColor = "#1f77b4"
    private static let latencyColor = "#d62728"

    /// The chart as an SVG document.
    package var svg: String {
        let steps = report.steps
        let usesTokens = steps.contains { $0.outputTokens > 0 }
        let throughputMax = Self.niceCeiling(steps.map(\.throughput).max() ?? 0)
        let latencyMax = Self.niceCeiling(steps.map(\.latency.p99).max() ?? 0)
        var out: [String] = [
            #"<?xml version="1.0" encoding="UTF-8"?>"#,
            #"<svg xmlns="http://www.w3.org/2000/svg" width="\#(Self.number(Self.width))" height="\#(Self.number(Self.height))" viewBox="0 0 \#(Self.number(Self.width)) \#(Self.number(Self.height))" font-family="Helvetica, Arial, sans-serif" font-size="12">"#,
            #"<rect width="100%" height="100%" fill="white"/>"#,
            #"<text class="title" x="\#(Self.number(Self.width / 2))" y="28" text-anchor="middle" font-size="15" font-weight="bold">\#(Self.escaped(title))</text>"#,
        ]
        // Axes and grid.
        out.append(##"<g class="axis x" stroke="#333">"##)
        out.append(Self.line(Self.left, Self.bottom, Self.right, Self.bottom))
        for step in steps {
            let x = xPosition(step.concurrency)
            out.append(Self.line(x, Self.bottom, x, Self.bottom + 5))
            out.append(
                #"<text class="tick" x="\#(Self.number(x))" y="\#(Self.number(Self.bottom + 20))" text-anchor="middle" stroke="none">\#(step.concurrency)</text>"#
            )
        }
        out.append(
            #"<text class="label" x="\#(Self.number((Self.left + Self.right) / 2))" y="\#(Self.number(Self.bottom + 42))" text-anchor="middle" stroke="none">requests in flight (concurrency)</text>"#
        )
        out.append("</g>")
        out += axis(
            side: "y-left",
            x: Self.left,
            maximum: throughputMax,
            color: Self.throughputColor,
            label: usesTokens ? "output tokens/s" : "requests/s"
        )
        out += axis(side: "y-right", x: Self.right, maximum: latencyMax, color: Self.latencyColor, label: "latency ms")
        // The recommendation.
        if let recommended = report.recommended {
            let x = xPosition(recommended)
            out.append(
                ##"<g class="recommended" stroke="#555" stroke-dasharray="4 4">\##(Self.line(x, Self.top, x, Self.bottom))<text x="\##(Self.number(x + 6))" y="\##(Self.number(Self.top + 14))" stroke="none" fill="#333">recommended: \##(recommended)</text></g>"##
            )
        }
        // The series.
        out += series("throughput", color: Self.throughputColor, dashed: false, maximum: throughputMax) {
            $0.throughput
        }
        out += series("latency-p50", color: Self.latencyColor, dashed: false, maximum: latencyMax) { $0.latency.p50 }
        out += series("latency-p99", color: Self.latencyColor, dashed: true, maximum: latencyMax) { $0.latency.p99 }
        // The legend.
        let legend: [(String, String, Bool)] = [
            (usesTokens ? "throughput (output tokens/s)" : "throughput (requests/s)", Self.throughputColor, false),
            ("latency p50 (ms)", Self.latencyColor, false), ("latency p99 (ms)", Self.latencyColor, true),
        ]
        out.append(#"<g class="legend">"#)
        var x = Self.left
        for entry in legend {
            let dash = entry.2 ? #" stroke-dasharray="6 4""# : ""
            out.append(
                #"<line x1="\#(Self.number(x))" y1="46" x2="\#(Self.number(x + 24))" y2="46" stroke="\#(entry.1)" stroke-width="2"\#(dash)/><text x="\#(Self.number(x + 30))" y="50">\#(entry.0)</text>"#
            )
            // About 6.5 px a character at 12 px Helvetica, then a gap.
            x += 30 + Double(entry.0.count) * 6.5 + 28
        }
        out.append("</g>")
        out.append("</svg>")
        return out.joined(separator: "\n") + "\n"
    }

    /// The x of a concurrency: log₂ between the smallest and largest step.
    package func xPosition(_ concurrency: Int) -> Double {
        let levels = report.steps.map { log2(Double(max(1, $0.concurrency))) }
        guard let low = levels.min(), let high = levels.max(), high > low else {
            return (Self.left + Self.right) / 2
        }
        let share = (log2(Double(max(1, concurrency))) - low) / (high - low)
        return Self.left + 20 + share * (Self.right - Self.left - 40)
    }

    private static func yPosition(_ value: Double, maximum: Double) -> Double {
        guard maximum > 0 else { return bottom }
        return bottom - min(1, max(0, value / maximum)) * (bottom - top)
    }

    private func axis(side: String, x: Double, maximum: Double, color: String, label: String) -> [String] {
        let isLeft = side == "y-left"
        let anchor = isLeft ? "end" : "start"
        let offset = isLeft ? -8.0 : 8.0
        var out = [#"<g class="axis \#(side)" stroke="\#(color)">"#, Self.line(x, Self.top, x, Self.bottom)]
        for tick in 0...5 {
            let value = maximum * Double(tick) / 5
            let y = Self.yPosition(value, maximum: maximum)
            out.append(Self.line(x, y, x + (isLeft ? -5 : 5), y))
            if isLeft, tick > 0 {
                out.append(
                    ##"<line class="grid" x1="\##(Self.number(Self.left))" y1="\##(Self.number(y))" x2="\##(Self.number(Self.right))" y2="\##(Self.number(y))" stroke="#eee"/>"##
                )
            }
            out.append(
                #"<text class="tick" x="\#(Self.number(x + offset))" y="\#(Self.number(y + 4))" text-anchor="\#(anchor)" stroke="none" fill="\#(color)">\#(Self.tickLabel(value))</text>"#
            )
        }
        let labelX = isLeft ? x - 58 : x + 58
        out.append(
            #"<text class="label" x="\#(Self.number(labelX))" y="\#(Self.number((Self.top + Self.bottom) / 2))" text-anchor="middle" stroke="none" fill="\#(color)" transform="rotate(-90 \#(Self.number(labelX)) \#(Self.number((Self.top + Self.bottom) / 2)))">\#(label)</text>"#
        )
        out.append("</g>")
        return out
    }

    private func series(
        _ name: String,
        color: String,
        dashed: Bool,
        maximum: Double,
        value: (ProbeStep) -> Double
    ) -> [String] {
        let points = report.steps.map { step in
            (step, xPosition(step.concurrency), Self.yPosition(value(step), maximum: maximum), value(step))
        }
        let path = points.map { "\(Self.number($0.1)),\(Self.number($0.2))" }.joined(separator: " ")
        let dash = dashed ? #" stroke-dasharray="6 4""# : ""
        var out = [
            #"<g class="series \#(name)">"#,
            #"<polyline points="\#(path)" fill="none" stroke="\#(color)" stroke-width="2"\#(dash)/>"#,
        ]
        for (step, x, y, raw) in points {
            out.append(
                #"<circle class="\#(name)" cx="\#(Self.number(x))" cy="\#(Self.number(y))" r="4" fill="\#(dashed ? "white" : color)" stroke="\#(color)" data-concurrency="\#(step.concurrency)" data-value="\#(Self.number(raw))"/>"#
            )
        }
        out.append("</g>")
        return out
    }

    private static func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double) -> String {
        #"<line x1="\#(number(x1))" y1="\#(number(y1))" x2="\#(number(x2))" y2="\#(number(y2))"/>"#
    }

    /// The smallest 1, 2, 2.5 or 5 × 10ⁿ at or above `value` (1 for nothing).
    package static func niceCeiling(_ value: Double) -> Double {
        guard value > 0, value.isFinite else { return 1 }
        let magnitude = pow(10, floor(log10(value)))
        for factor in [1, 2, 2.5, 5, 10] where factor * magnitude >= value {
            return factor * magnitude
        }
        return 10 * magnitude
    }

    private static func tickLabel(_ value: Double) -> String {
        if value >= 1000 {
            return SummaryText.format(value / 1000, digits: value.truncatingRemainder(dividingBy: 1000) == 0 ? 0 : 1)
                + "k"
        }
        return value.rounded() == value ? String(Int(value)) : SummaryText.format(value, digits: 1)
    }

    private static func number(_ value: Double) -> String {
        SummaryText.format(value, digits: 1)
    }

    private static func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
