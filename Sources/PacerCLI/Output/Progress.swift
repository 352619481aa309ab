import Foundation
import PacerCore
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The counters behind the progress line, from the batch's events. Pure, so it is tested
/// without a terminal.
struct ProgressState {
    /// Items to run (the input's items less those already done), when known.
    var total: Int?
    var succeeded = 0
    var failed = 0
    var cancelled = 0
    var inFlight = 0
    var retries = 0
    var tokens = 0
    var costUSD: Double?

    var done: Int { succeeded + failed + cancelled }

    mutating func apply(_ event: BatchEvent) {
        switch event {
        case .started:
            inFlight += 1
        case .attemptFailed(_, _, _, _, let retryIn):
            if retryIn != nil { retries += 1 }
        case .finished(_, _, let outcome, _, let usage, let cost):
            inFlight -= 1
            switch outcome {
            case .succeeded: succeeded += 1
            case .failed: failed += 1
            case .cancelled: cancelled += 1
            }
            tokens += usage?.total ?? 0
            if let cost { costUSD = (costUSD ?? 0) + cost }
        }
    }

    /// `[ 120/1000 ] ok 118 · failed 2 · in flight 8 · retries 5 · 12.3/s · 45,000 tokens · $0.0123 · ETA 1m12s`
    func line(elapsed: Double, showTokens: Bool) -> String {
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        var parts = [
            total.map { "[ \(done)/\($0) ]" } ?? "[ \(done) ]",
            "ok \(succeeded)",
            "failed \(failed)",
            "in flight \(inFlight)",
            "retries \(retries)",
            "\(SummaryText.format(rate, digits: 1))/s",
        ]
        if showTokens {
            parts.append("\(tokens) tokens")
            parts.append(costUSD.map { "$" + SummaryText.format($0, digits: 4) } ?? "cost unknown")
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

    /// Consumes events until the stream ends, redrawing on a clock of its own, so that the
    /// line keeps moving (falling rate, growing ETA) while the server makes every worker wait.
    func run(_ events: AsyncStream<BatchEvent>) async {
        let state = SharedState(ProgressState(total: total))
        let start = ContinuousClock.now
        let interval: Duration = interactive ? .milliseconds(100) : .seconds(10)
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                while (try? await Task.sleep(for: interval)) != nil {
                    let line = state.value.withLock { $0.line(elapsed: start.duration(to: .now).pacerSeconds, showTokens: showTokens) }
                    draw(line)
                }
            }
            for await event in events {
                state.value.withLock { $0.apply(event) }
            }
            group.cancelAll()
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

/// A value shared between tasks behind a lock.
private final class SharedState<Value: Sendable>: Sendable {
    let value: Mutex<Value>
    init(_ value: Value) { self.value = Mutex(value) }
}
