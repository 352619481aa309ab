import PacerCore
import Synchronization

/// What the simulator has served: requests per status and per item, and tokens delivered.
public struct SimulatorStatsSnapshot: Sendable, Hashable, Codable {
    /// Requests received on the API endpoints.
    public var requests: Int
    /// Requests per outcome: an HTTP status (`"200"`, `"429"`, …) or a fault that has none of
    /// its own (`"drop"`, `"truncate"`, `"malformed"`, `"slow"`).
    public var byStatus: [String: Int]
    /// Requests per item: `posts/{id}` or `chat:{prompt}`.
    public var byItem: [String: Int]
    /// Tokens in the chat completions delivered whole and in time with status 200.
    public var tokens: TokenUsage
    /// Requests and 429s in each second since the server started, for rate measurements.
    public var perSecond: [Second]

    /// What happened in one second.
    public struct Second: Sendable, Hashable, Codable {
        /// Requests received.
        public var requests: Int
        /// Of those, answered 429.
        public var rateLimited: Int

        enum CodingKeys: String, CodingKey {
            case requests
            case rateLimited = "rate_limited"
        }
    }

    enum CodingKeys: String, CodingKey {
        case requests, tokens
        case perSecond = "per_second"
        case byStatus = "by_status"
        case byItem = "by_item"
    }
}

/// Thread-safe counters behind `GET /stats`.
public final class SimulatorStats: Sendable {
    private let state = Mutex(
        SimulatorStatsSnapshot(requests: 0, byStatus: [:], byItem: [:], tokens: TokenUsage(), perSecond: [])
    )
    private let triggers = Mutex<[(count: Int, action: @Sendable () -> Void)]>([])
    private let started = ContinuousClock.now

    /// Creates empty counters.
    public init() {}

    /// The current second since the server started, with its slot created.
    private func second(_ snapshot: inout SimulatorStatsSnapshot) -> Int {
        let second = Int(started.duration(to: .now).pacerSeconds)
        while snapshot.perSecond.count <= second { snapshot.perSecond.append(.init(requests: 0, rateLimited: 0)) }
        return second
    }

    func recordRequest(item: String) {
        let requests = state.withLock {
            $0.requests += 1
            $0.byItem[item, default: 0] += 1
            $0.perSecond[second(&$0)].requests += 1
            return $0.requests
        }
        let due = triggers.withLock { pending in
            let due = pending.filter { $0.count <= requests }
            pending.removeAll { $0.count <= requests }
            return due
        }
        for trigger in due { trigger.action() }
    }

    /// Runs `action` once, when the `count`-th API request arrives (for tests that interrupt a
    /// client at a chosen point of its batch).
    public func when(requests count: Int, _ action: @escaping @Sendable () -> Void) {
        triggers.withLock { $0.append((count, action)) }
    }

    func recordOutcome(_ outcome: String, tokens: TokenUsage? = nil) {
        state.withLock {
            $0.byStatus[outcome, default: 0] += 1
            if let tokens { $0.tokens = $0.tokens + tokens }
            if outcome == "429" { $0.perSecond[second(&$0)].rateLimited += 1 }
        }
    }

    /// The counters now.
    public func snapshot() -> SimulatorStatsSnapshot {
        state.withLock { $0 }
    }
}
