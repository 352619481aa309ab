import ArgumentParser
import Foundation
import PacerCore
import PacerJobs
import PacerOpenAI

/// `--dry-run`: reads and checks the whole input as a run would, and prints per model the
/// items, their estimated input tokens, the most output tokens they allow and the cost range
/// (input only, to input and the most output). Sends nothing, needs no key, writes no file.
enum DryRun {
    /// The totals of one model.
    struct Totals {
        var items = 0
        var inputTokens = 0
        var maxOutputTokens = 0
        var minUSD: Double? = 0
        var maxUSD: Double? = 0

        mutating func add(_ estimate: CostEstimate) {
            items += 1
            inputTokens = DryRun.plus(inputTokens, estimate.inputTokens)
            maxOutputTokens = DryRun.plus(maxOutputTokens, estimate.maxOutputTokens)
            minUSD = minUSD.flatMap { total in estimate.minUSD.map { total + $0 } }
            maxUSD = maxUSD.flatMap { total in estimate.maxUSD.map { total + $0 } }
        }
    }

    /// Reads the input and prints the estimate to stdout; 0, or 2 for unusable input (thrown).
    static func run<Input: Sendable>(
        options: RunOptions,
        parser: ItemParser<Input>,
        estimate: @escaping @Sendable (Input) -> CostEstimate
    ) async throws -> ExitCode {
        let invalid = Tally()
        var tolerate: (@Sendable (String, InputError) -> Void)?
        if options.skipInvalid { tolerate = { @Sendable _, _ in invalid.add() } }
        let source = try ItemSource(
            path: options.input,
            format: options.format,
            parser: parser,
            skip: { _ in false },
            onInvalid: tolerate
        )
        var models: [String: Totals] = [:]
        for try await item in source {
            let cost = estimate(item.input)
            models[cost.model, default: Totals()].add(cost)
        }
        print(
            lines(models, input: options.input == "-" ? "stdin" : options.input, invalid: invalid.count).joined(
                separator: "\n"
            )
        )
        return .success
    }

    /// The printed table.
    static func lines(_ models: [String: Totals], input: String, invalid: Int) -> [String] {
        var total = Totals()
        var rows: [[String]] = [["model", "items", "input tokens (est.)", "max output tokens", "cost (USD)"]]
        for (model, totals) in models.sorted(by: { $0.key < $1.key }) {
            rows.append([
                model, String(totals.items), String(totals.inputTokens), String(totals.maxOutputTokens), cost(totals),
            ])
            total.items += totals.items
            total.inputTokens = plus(total.inputTokens, totals.inputTokens)
            total.maxOutputTokens = plus(total.maxOutputTokens, totals.maxOutputTokens)
            total.minUSD = total.minUSD.flatMap { sum in totals.minUSD.map { sum + $0 } }
            total.maxUSD = total.maxUSD.flatMap { sum in totals.maxUSD.map { sum + $0 } }
        }
        if models.count > 1 {
            rows.append([
                "total", String(total.items), String(total.inputTokens), String(total.maxOutputTokens), cost(total),
            ])
        }
        let widths = (0..<5).map { column in rows.map { $0[column].count }.max() ?? 0 }
        var lines = ["Dry run of \(input): nothing sent." + (invalid > 0 ? " \(invalid) invalid lines skipped." : "")]
        for row in rows {
            lines.append(
                row.enumerated().map { column, text in
                    column == 0
                        ? text.padding(toLength: widths[0], withPad: " ", startingAt: 0)
                        : String(repeating: " ", count: widths[column] - text.count) + text
                }.joined(separator: "  ")
            )
        }
        lines.append(
            "Input tokens are estimated at four bytes a token; output at most max_tokens (or the endpoint's default "
                + "allowance when a request sets none)."
        )
        return lines
    }

    /// `a + b`, or `Int.max` when that overflows (a line may ask for any `max_tokens`).
    static func plus(_ a: Int, _ b: Int) -> Int {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? .max : sum
    }

    static func cost(_ totals: Totals) -> String {
        guard let low = totals.minUSD, let high = totals.maxUSD else { return "unknown (no price)" }
        return "$\(SummaryText.format(low, digits: 4)) – $\(SummaryText.format(high, digits: 4))"
    }
}
