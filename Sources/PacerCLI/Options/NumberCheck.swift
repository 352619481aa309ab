import ArgumentParser

/// Startup checks of numeric flags: each value is finite and within a range a run can use,
/// so that no flag reaches a conversion that traps (`--timeout inf`, `--tpm 1e30`) and a
/// mistyped value stops the command with exit 2 and the flag's name instead.
package enum NumberCheck {
    /// The longest time a flag may name, in seconds: a week.
    package static let longestSeconds: Double = 604_800
    /// The highest rate a flag may name, per minute (requests or tokens).
    package static let highestRate: Double = 1e12
    /// The largest count of tokens or items a flag may name.
    package static let largestCount = 1_000_000_000

    /// A number of seconds: finite, above 0 (or 0 itself with `zeroAllowed`), at most `limit`.
    package static func seconds(
        _ value: Double?,
        _ flag: String,
        zeroAllowed: Bool = false,
        limit: Double = longestSeconds
    ) throws {
        guard let value else { return }
        let low = zeroAllowed ? "0" : "above 0"
        guard value.isFinite, zeroAllowed ? value >= 0 : value > 0, value <= limit else {
            throw ValidationError(
                "\(flag) must be a number of seconds \(low) and at most \(format(limit)), got \(value)"
            )
        }
    }

    /// A rate per minute: finite, above 0, at most ``highestRate``.
    package static func rate(_ value: Double?, _ flag: String) throws {
        guard let value else { return }
        guard value.isFinite, value > 0, value <= highestRate else {
            throw ValidationError(
                "\(flag) must be a positive number per minute, at most \(format(highestRate)), got \(value)"
            )
        }
    }

    /// A number within `range` (finite by being in it).
    package static func within(_ value: Double?, _ flag: String, _ range: ClosedRange<Double>) throws {
        guard let value else { return }
        guard range.contains(value) else {
            throw ValidationError(
                "\(flag) must be a number from \(format(range.lowerBound)) to \(format(range.upperBound)), got \(value)"
            )
        }
    }

    /// A whole number within `range`.
    package static func within(_ value: Int?, _ flag: String, _ range: ClosedRange<Int>) throws {
        guard let value else { return }
        guard range.contains(value) else {
            throw ValidationError("\(flag) must be from \(range.lowerBound) to \(range.upperBound), got \(value)")
        }
    }

    /// `value` as a flag's message shows it: whole numbers without a fraction.
    private static func format(_ value: Double) -> String {
        value.rounded() == value && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}
