/// Exponential backoff with jitter, as a pure function of the retry number.
///
/// The un-jittered delay before retry `n` (0-based) is `base · multiplierⁿ`, capped at `cap`.
/// Jitter then spreads the delay so that many clients do not retry in lockstep
/// (see "Exponential Backoff And Jitter", AWS Architecture Blog).
public struct Backoff: Sendable, Hashable {
    /// The delay before the first retry. Default 1 s, as the reference solution.
    public var base: Duration
    /// The growth factor per retry. Default 2.
    public var multiplier: Double
    /// The largest delay ever returned. Default 60 s.
    public var cap: Duration
    /// How the delay is spread. Default ``Jitter/full``.
    public var jitter: Jitter

    /// Creates a backoff.
    ///
    /// - Parameters:
    ///   - base: The delay before the first retry (default 1 s). Must not be negative.
    ///   - multiplier: The growth factor per retry (default 2). Must be at least 1.
    ///   - cap: The largest delay (default 60 s). Must not be below `base`.
    ///   - jitter: How delays are spread (default full jitter).
    public init(
        base: Duration = .seconds(1),
        multiplier: Double = 2,
        cap: Duration = .seconds(60),
        jitter: Jitter = .full
    ) {
        precondition(base >= .zero, "Backoff base must not be negative")
        precondition(multiplier >= 1, "Backoff multiplier must be at least 1")
        precondition(cap >= base, "Backoff cap must not be below its base")
        self.base = base
        self.multiplier = multiplier
        self.cap = cap
        self.jitter = jitter
    }

    /// The delay before retry number `retry` (0 for the first retry) without jitter, capped.
    public func ceiling(forRetry retry: Int) -> Duration {
        // Compute in Double and cap before converting back, so large exponents cannot overflow.
        let seconds = base.pacerSeconds * pow(multiplier, Double(max(0, retry)))
        return .pacerSeconds(min(seconds, cap.pacerSeconds))
    }

    /// The jittered delay before retry number `retry`.
    ///
    /// - Parameters:
    ///   - retry: 0 for the first retry, 1 for the second, …
    ///   - previous: The delay used before the previous retry (for decorrelated jitter).
    ///   - unit: A uniform random value in `0..<1`.
    public func delay(forRetry retry: Int, previous: Duration?, unit: Double) -> Duration {
        let ceiling = ceiling(forRetry: retry).pacerSeconds
        let seconds: Double
        switch jitter.mode {
        case .none:
            seconds = ceiling
        case .full:
            seconds = ceiling * unit
        case .equal:
            seconds = ceiling / 2 + ceiling / 2 * unit
        case .decorrelated:
            // sleep = min(cap, random_between(base, previous * 3))
            let low = base.pacerSeconds
            let high = max(low, (previous?.pacerSeconds ?? low) * 3)
            seconds = min(cap.pacerSeconds, low + (high - low) * unit)
        }
        return .pacerSeconds(seconds)
    }
}

/// How a backoff delay is randomised.
public struct Jitter: Sendable, Hashable, CustomStringConvertible {
    enum Mode: String, Sendable, Hashable, CaseIterable {
        case none, full, equal, decorrelated
    }

    let mode: Mode

    /// No randomness: exactly `base · multiplierⁿ` (reproducible runs, tests).
    public static let none = Jitter(mode: .none)
    /// A uniform delay in `0…ceiling` (the default; spreads retries best).
    public static let full = Jitter(mode: .full)
    /// Half the ceiling plus a uniform share of the other half.
    public static let equal = Jitter(mode: .equal)
    /// `min(cap, uniform(base, previous · 3))`.
    public static let decorrelated = Jitter(mode: .decorrelated)

    /// Parses `none`, `full`, `equal` or `decorrelated`.
    public init?(name: String) {
        guard let mode = Mode(rawValue: name.lowercased()) else { return nil }
        self.mode = mode
    }

    private init(mode: Mode) { self.mode = mode }

    /// All names accepted by ``init(name:)``.
    public static var names: [String] { Mode.allCases.map(\.rawValue) }

    /// A one-line description for people.
    public var description: String { mode.rawValue }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
