import PacerCore
import Synchronization

/// What the simulator has served: requests per status and per item, and tokens delivered.
public struct SimulatorStatsSnapshot: Sendable, Hashable, Codable {
    /// Requests received on the API endpoints.
    public var requests: Int
    /// Requests per outcome: an HTTP status (`"200"`, `"429"`, …) or a fault that has none of
    /// its own (`"drop"`, `"truncate"`, `"malformed"`, `"slow"`, `"stall"`, `"html"`). A
    /// streamed answer delivered whole counts as `"200"`; one that did not end well counts
    /// as `"truncate"` (cut off by the fault), `"stream-error"` (an error event mid-stream),
    /// `"cut"` (ended early by another request's arrival, ``SimulatorConfiguration/llamaQuirks``)
    /// or `"client-closed"` (the client went away mid-stream), and its tokens are not counted.
    public var byStatus: [String: Int]
    /// Requests per item: `posts/{id}`, `chat:{prompt}`, `embeddings:{first input}`,
    /// `completions:{first prompt}`, `responses:{input text}` or `moderations:{first input}`.
    public var byItem: [String: Int]
    /// Tokens in the API answers delivered whole and in time with status 200, all endpoints
    /// together (moderations, which report no usage, count their inputs as prompt tokens).
    public var tokens: TokenUsage
    /// Requests and 429s in each second since the server started, for rate measurements.
    public var perSecond: [Second]
    /// The same counts for each API endpoint, keyed by its path after `/v1/`:
    /// `chat/completions`, `embeddings`, `completions`, `responses`, `moderations`.
    public var byEndpoint: [String: EndpointStats]
    /// Streamed chat answers begun (`"stream": true` requests answered with an event stream),
    /// however they ended.
    public var streams: Int
    /// The API requests of each client, keyed by its `User-Agent` (`pacer (run 3fa9c1)`,
    /// `OpenAI/Python 3.57.0`; `"unknown"` without one): one simulator is one organisation's
    /// limit, and this tells which of the processes sharing it were refused.
    public var byClient: [String: ClientStats]

    /// Creates a snapshot.
    public init(
        requests: Int = 0,
        byStatus: [String: Int] = [:],
        byItem: [String: Int] = [:],
        tokens: TokenUsage = TokenUsage(),
        perSecond: [Second] = [],
        byEndpoint: [String: EndpointStats] = [:],
        streams: Int = 0,
        byClient: [String: ClientStats] = [:]
    ) {
        self.requests = requests
        self.byStatus = byStatus
        self.byItem = byItem
        self.tokens = tokens
        self.perSecond = perSecond
        self.byEndpoint = byEndpoint
        self.streams = streams
        self.byClient = byClient
    }

    /// Decodes a snapshot; `by_endpoint`, `streams` and `by_client` may be absent (a simulator
    /// older than them).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.requests = try container.decode(Int.self, forKey: .requests)
        self.byStatus = try container.decode([String: Int].self, forKey: .byStatus)
        self.byItem = try container.decode([String: Int].self, forKey: .byItem)
        self.tokens = try container.decode(TokenUsage.self, forKey: .tokens)
        self.perSecond = try container.decode([Second].self, forKey: .perSecond)
        self.byEndpoint = try container.decodeIfPresent([String: EndpointStats].self, forKey: .byEndpoint) ?? [:]
        self.streams = try container.decodeIfPresent(Int.self, forKey: .streams) ?? 0
        self.byClient = try container.decodeIfPresent([String: ClientStats].self, forKey: .byClient) ?? [:]
    }

    /// What one client has been answered.
    public struct ClientStats: Sendable, Hashable, Codable {
        /// Its API requests.
        public var requests: Int
        /// Its requests per outcome, as ``SimulatorStatsSnapshot/byStatus`` (`"429"`: refused).
        public var byStatus: [String: Int]

        /// Creates the counts of a client.
        public init(requests: Int = 0, byStatus: [String: Int] = [:]) {
            self.requests = requests
            self.byStatus = byStatus
        }

        enum CodingKeys: String, CodingKey {
            case requests
            case byStatus = "by_status"
        }
    }

    /// What one API endpoint has served.
    public struct EndpointStats: Sendable, Hashable, Codable {
        /// Requests received on the endpoint, whatever their outcome.
        public var requests: Int
        /// Its requests per outcome, as ``SimulatorStatsSnapshot/byStatus``.
        public var byStatus: [String: Int]
        /// The usage of its answers delivered whole and in time with status 200: exactly what
        /// a client adds up from the bodies it received (for moderations, the inputs' tokens).
        public var tokens: TokenUsage

        /// Creates the counts of an endpoint.
        public init(requests: Int = 0, byStatus: [String: Int] = [:], tokens: TokenUsage = TokenUsage()) {
            self.requests = requests
            self.byStatus = byStatus
            self.tokens = tokens
        }

        enum CodingKeys: String, CodingKey {
            case requests, tokens
            case byStatus = "by_status"
        }
    }

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
        case requests, tokens, streams
        case perSecond = "per_second"
        case byStatus = "by_status"
        case byItem = "by_item"
        case byEndpoint = "by_endpoint"
        case byClient = "by_client"
    }
}

/// Thread-safe counters behind `GET /stats`.
public final class SimulatorStats: Sendable {
    private let state = Mutex(SimulatorStatsSnapshot())
    private let triggers = Mutex<[(count: Int, action: @Sendable () -> Void)]>([])
    private let started = ContinuousClock.now

    /// Creates empty counters.
    public init() {}

    /// The API endpoint (path after `/v1/`) the current request was sent to, for
    /// ``SimulatorStatsSnapshot/byEndpoint``; `nil` outside the API (posts). Set by the router
    /// around each API handler, so that every outcome recorded while the request is served
    /// (including the error answers of the shared paths) lands on its endpoint.
    @TaskLocal static var endpoint: String?

    /// The client (`User-Agent`) of the current API request, for
    /// ``SimulatorStatsSnapshot/byClient``; set by the router with ``endpoint``.
    @TaskLocal static var client: String?

    /// The current second since the server started, with its slot created.
    private func second(_ snapshot: inout SimulatorStatsSnapshot) -> Int {
        let second = Int(started.duration(to: .now).pacerSeconds)
        while snapshot.perSecond.count <= second { snapshot.perSecond.append(.init(requests: 0, rateLimited: 0)) }
        return second
    }

    func recordRequest(item: String) {
        let endpoint = Self.endpoint
        let client = Self.client
        let requests = state.withLock {
            $0.requests += 1
            $0.byItem[item, default: 0] += 1
            if let endpoint { $0.byEndpoint[endpoint, default: .init()].requests += 1 }
            if let client { $0.byClient[client, default: .init()].requests += 1 }
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

    /// Counts an outcome (and the tokens delivered) for the request being served; `endpoint`
    /// and `client` default to the ones the router set, and are passed explicitly from a
    /// response body written after the handler returned (a stream), where the router's
    /// values are gone.
    func recordOutcome(
        _ outcome: String,
        tokens: TokenUsage? = nil,
        endpoint: String? = SimulatorStats.endpoint,
        client: String? = SimulatorStats.client
    ) {
        state.withLock {
            $0.byStatus[outcome, default: 0] += 1
            if let client { $0.byClient[client, default: .init()].byStatus[outcome, default: 0] += 1 }
            if let tokens { $0.tokens = $0.tokens + tokens }
            if let endpoint {
                var counts = $0.byEndpoint[endpoint] ?? .init()
                counts.byStatus[outcome, default: 0] += 1
                if let tokens { counts.tokens = counts.tokens + tokens }
                $0.byEndpoint[endpoint] = counts
            }
            if outcome == "429" { $0.perSecond[second(&$0)].rateLimited += 1 }
        }
    }

    /// Counts a streamed answer begun.
    func recordStream() {
        state.withLock { $0.streams += 1 }
    }

    /// The counters now.
    public func snapshot() -> SimulatorStatsSnapshot {
        state.withLock { $0 }
    }
}
