import Foundation
import PacerCore
import PacerJobs

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The progress line, from the batch's live counters. Pure, so it is tested without a
/// terminal.
struct ProgressState {
    /// Items to run (the input's items less those already done), when known.
    var total: Int?
    /// The counters at the time of drawing.
    var counts = BatchProgress.Snapshot()

    var done: Int { counts.done }

    /// `[ 120/1000 ] ok 118 · failed 2 · in flight 8 · retries 5 · 12.3/s · 45,000 tokens · $0.0123 · ETA 1m12s`
    func line(elapsed: Double, showTokens: Bool) -> String {
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        var parts = [
            total.map { "[ \(done)/\($0) ]" } ?? "[ \(done) ]",
            "ok \(counts.succeeded)",
            "failed \(counts.failed)",
            "in flight \(counts.inFlight)" + (counts.concurrencyLimit.map { " (limit \($0))" } ?? ""),
            "retries \(counts.retries)",
            "\(SummaryText.format(rate, digits: 1))/s",
        ]
        if showTokens {
            parts.append("\(counts.tokens) tokens")
            parts.append(counts.costUSD.map { "$" + SummaryText.format($0, digits: 4) } ?? "cost unknown")
        }
        if let total, rate > 0, done < total {
            parts.append("ETA " + Self.duration(Double(total - done) / rate))
        }
        return parts[0] + " " + parts.dropFirst().joined(separator: " · ")
    }

    static func duration(_ seconds: Double) -> String {
        let whole = Int(seconds.rounded(.up))
        if whole >= 3600 { return "\(whole / 3600)h\(whole % 3600 / 60)m" }
        if whole >= 60 { return "\(whole / 60)m\(whole % 60)s" }
        return "\(whole)s"
    }
}

/// Draws progress on stderr: a line redrawn in place 10 times a second on a terminal; a
/// plain line every 10 s otherwise. No colours are used, so `NO_COLOR` holds.
struct ProgressReporter: Sendable {
    let total: Int?
    let showTokens: Bool
    /// Whether stderr is a terminal that understands `\r` and erase-line.
    let interactive: Bool

    init(total: Int?, showTokens: Bool) {
        self.total = total
        self.showTokens = showTokens
        let term = ProcessInfo.processInfo.environment["TERM"] ?? ""
        self.interactive = isatty(STDERR_FILENO) == 1 && term != "dumb"
    }

    /// Redraws from the batch's counters on a clock of its own until the task is cancelled,
    /// so that the line keeps moving (falling rate, growing ETA) while the server makes every
    /// worker wait. Reading counters, not events, keeps its memory flat however fast the
    /// batch runs.
    func run(_ progress: BatchProgress) async {
        let start = ContinuousClock.now
        let interval: Duration = interactive ? .milliseconds(100) : .seconds(10)
        while (try? await Task.sleep(for: interval)) != nil {
            let state = ProgressState(total: total, counts: progress.snapshot)
            draw(state.line(elapsed: start.duration(to: .now).pacerSeconds, showTokens: showTokens))
        }
        if interactive { clear() }
    }

    private func draw(_ line: String) {
        let text = interactive ? "\r\u{1B}[2K" + line : line + "\n"
        FileHandle.standardError.write(Data(text.utf8))
    }

    private func clear() {
        FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8))
    }
}
