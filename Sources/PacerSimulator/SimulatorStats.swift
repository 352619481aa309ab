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

    enum CodingKeys: String, CodingKey {
        case requests, tokens
        case byStatus = "by_status"
        case byItem = "by_item"
    }
}

/// Thread-safe counters behind `GET /stats`.
public final class SimulatorStats: Sendable {
    private let state = Mutex(SimulatorStatsSnapshot(requests: 0, byStatus: [:], byItem: [:], tokens: TokenUsage()))

    /// Creates empty counters.
    public init() {}

    func recordRequest(item: String) {
        state.withLock {
            $0.requests += 1
            $0.byItem[item, default: 0] += 1
        }
    }

    func recordOutcome(_ outcome: String, tokens: TokenUsage? = nil) {
        state.withLock {
            $0.byStatus[outcome, default: 0] += 1
            if let tokens { $0.tokens = $0.tokens + tokens }
        }
    }

    /// The counters now.
    public func snapshot() -> SimulatorStatsSnapshot {
        state.withLock { $0 }
    }
}
