import Synchronization

/// A thread-safe source of uniform random numbers, seedable for reproducible runs.
///
/// The engine draws jitter from it. ``seeded(_:)`` gives the same sequence for the same seed
/// (SplitMix64); ``system`` uses the system's generator.
public final class RandomSource: Sendable {
    private enum Backing {
        case system
        case seeded(SplitMix64)
    }

    private let state: Mutex<Backing>

    private init(_ backing: Backing) {
        self.state = Mutex(backing)
    }

    /// A source backed by the system's random number generator.
    public static var system: RandomSource { RandomSource(.system) }

    /// A reproducible source: the same seed gives the same sequence.
    public static func seeded(_ seed: UInt64) -> RandomSource { RandomSource(.seeded(SplitMix64(seed: seed))) }

    /// A uniformly distributed value in `0..<1`.
    public func nextUnit() -> Double {
        state.withLock { backing in
            switch backing {
            case .system:
                return Double.random(in: 0..<1)
            case .seeded(var generator):
                let value = Double.random(in: 0..<1, using: &generator)
                backing = .seeded(generator)
                return value
            }
        }
    }
}

/// The SplitMix64 generator (Steele, Lea, Flood 2014): tiny, fast, good enough for jitter.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// Creates a generator from a seed.
    public init(seed: UInt64) { self.state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
