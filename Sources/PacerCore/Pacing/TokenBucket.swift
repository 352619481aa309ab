/// A token bucket kept as a GCRA "theoretical arrival time": a pure value, times in seconds.
///
/// The bucket drains at `rate` units per second and holds at most `capacity`. A request of
/// `cost` units is admitted as soon as it fits; ``reserve(_:now:)`` returns when that is and
/// books it, so concurrent callers are served in order without retrying (no thundering herd).
/// A cost above the capacity is admitted when the bucket is empty and runs it into debt.
package struct TokenBucket: Sendable, Hashable {
    /// Units replenished per second.
    public private(set) var rate: Double
    /// The most units that can be used at once (the burst).
    public private(set) var capacity: Double
    /// When the bucket will have drained completely, in seconds from the limiter's origin.
    public private(set) var emptyAt: Double

    /// Creates an empty (fully available) bucket.
    ///
    /// - Parameters:
    ///   - rate: Units per second. Must be positive.
    ///   - capacity: The burst, in units. Must be positive.
    ///   - now: The current time in seconds.
    public init(rate: Double, capacity: Double, now: Double = 0) {
        precondition(rate > 0 && capacity > 0, "a bucket needs a positive rate and capacity")
        self.rate = rate
        self.capacity = capacity
        self.emptyAt = now
    }

    /// Units in use at `now` (0 when the bucket has drained).
    public func level(at now: Double) -> Double {
        max(0, (emptyAt - now) * rate)
    }

    /// The time at which `cost` units could be used if booked now (never before `now`).
    public func admissionTime(_ cost: Double, now: Double) -> Double {
        max(now, emptyAt - max(0, capacity - cost) / rate)
    }

    /// Books `cost` units and returns the time at which they may be used (never before `now`).
    public mutating func reserve(_ cost: Double, now: Double) -> Double {
        let admitted = admissionTime(cost, now: now)
        emptyAt = max(emptyAt, now) + cost / rate
        return admitted
    }

    /// Gives back `units` (a refund when positive, an extra charge when negative).
    public mutating func refund(_ units: Double) {
        emptyAt -= units / rate
    }

    /// Makes at most `available` units usable from `now` on, if fewer are usable now.
    ///
    /// Used when the server says it has less capacity left than the bucket thinks.
    public mutating func limitAvailable(to available: Double, now: Double) {
        let floorLevel = max(0, capacity - max(0, available))
        if level(at: now) < floorLevel {
            emptyAt = now + floorLevel / rate
        }
    }

    /// Changes the rate and capacity, keeping the units in use.
    public mutating func reconfigure(rate: Double, capacity: Double, now: Double) {
        precondition(rate > 0 && capacity > 0, "a bucket needs a positive rate and capacity")
        let used = level(at: now)
        self.rate = rate
        self.capacity = capacity
        self.emptyAt = now + used / rate
    }
}
