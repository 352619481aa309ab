import NIOCore
import PacerCore
import PacerJSON

/// Sends each request to one of several deployments of its model (routes): the one whose
/// own quota can start it soonest, through that deployment's ``APIClient`` (its root, key,
/// headers, Azure paths), with the model renamed as the deployment calls it. A failure that
/// is the deployment's (a refused key, a spent quota, a 429, a 5xx, a broken connection) is
/// retried by the engine on another deployment when one serves the model: such an error is
/// handed back retryable and without the deployment's `retry-after`, which its own quota
/// keeps. One request is on one deployment at a time.
public struct RoutedClient: BatchOperation {
    /// One deployment: its client, and the models it serves, by the name a request gives
    /// mapped to the name the deployment knows.
    public struct Deployment: Sendable {
        /// Sends to this deployment.
        public var client: APIClient
        /// Request model → the deployment's model.
        public var models: [String: String]

        /// A deployment reached through `client`, serving `models`.
        public init(client: APIClient, models: [String: String]) {
            self.client = client
            self.models = models
        }
    }

    /// The deployments, in the router's order.
    public let deployments: [Deployment]
    /// Picks a deployment and paces each.
    public let router: DeploymentRouter<ContinuousClock>
    /// Answers kept and looked up before a request waits for a deployment.
    public let cache: ResponseCache?
    /// Prices, for answers whose model the deployment renamed.
    public let pricing: PricingTable
    /// The deployments serving each model.
    private let serving: [String: [Int]]
    /// Reads kept answers as the first deployment's client would read live ones.
    private let cacheReader: APIClient?

    /// A client over `deployments`, paced and chosen by `router` (in the same order).
    public init(
        deployments: [Deployment],
        router: DeploymentRouter<ContinuousClock>,
        cache: ResponseCache? = nil,
        pricing: PricingTable = .builtIn
    ) {
        self.deployments = deployments
        self.router = router
        self.cache = cache
        self.pricing = pricing
        var serving: [String: [Int]] = [:]
        for (index, deployment) in deployments.enumerated() {
            for model in deployment.models.keys { serving[model, default: []].append(index) }
        }
        self.serving = serving
        cacheReader = cache.flatMap { cache in
            deployments.first.map { first in
                var configuration = first.client.configuration
                configuration.cache = cache
                return APIClient(configuration: configuration, transport: first.client.transport)
            }
        }
    }

    /// The models some deployment serves.
    public var models: Set<String> { Set(serving.keys) }

    /// Sends one request.
    public func attempt(_ item: BatchItem<APIRequest>, attempt: Int) async throws -> APIResponse {
        try await send(item, attempt: attempt, timeout: nil)
    }

    /// Sends one request; `timeout` bounds the request, not the wait for a deployment.
    public func attempt(_ item: BatchItem<APIRequest>, attempt: Int, timeout: Duration) async throws -> APIResponse {
        try await send(item, attempt: attempt, timeout: timeout)
    }

    /// `true`: each deployment's request has its deadline.
    public var enforcesTimeout: Bool { true }

    /// The answer kept for this request, as the request names its model.
    public func storedOutput(for request: APIRequest) async -> APIResponse? {
        await cacheReader?.storedOutput(for: request)
    }

    private func send(_ item: BatchItem<APIRequest>, attempt: Int, timeout: Duration?) async throws -> APIResponse {
        let model = item.input.model ?? ""
        guard let candidates = serving[model], !candidates.isEmpty else {
            throw ItemError(
                kind: .invalidInput,
                message: "no deployment in the routes serves the model '\(model)'",
                isRetryable: false
            )
        }
        let tokens = estimatedTokens(for: item.input)
        let lease = try await router.lease(among: candidates, tokens: tokens)
        let deployment = deployments[lease.index]
        var request = item.input
        if let renamed = deployment.models[model], renamed != model, case .object(var members) = request.body {
            members["model"] = .string(renamed)
            request.body = .object(members)
        }
        let routed = BatchItem(index: item.index, id: item.id, input: request)
        do {
            var answer =
                if let timeout {
                    try await deployment.client.attempt(routed, attempt: attempt, timeout: timeout)
                } else {
                    try await deployment.client.attempt(routed, attempt: attempt)
                }
            if answer.costUSD == nil, let usage = answer.usage {
                answer.costUSD = pricing.cost(of: usage, model: model)
            }
            router.finish(
                lease,
                outcome: .answered(usedTokens: answer.usage?.total ?? 0, rateLimit: answer.rateLimit),
                failure: nil,
                usage: answer.usage,
                costUSD: answer.costUSD
            )
            // Kept under the request as the batch wrote it, so that any deployment's answer serves it.
            if let cache,
                let key = cache.key(endpoint: item.input.endpoint.path, body: item.input.body, counting: false)
            {
                await cache.store(
                    .init(status: answer.status, requestID: answer.requestID, body: .init(string: answer.body)),
                    for: key
                )
            }
            // Each deployment's limits are its own quota's; the engine's learns nothing.
            answer.rateLimit = nil
            return answer
        } catch {
            var failure = Task.isCancelled ? ItemError.cancelled : ItemError(classifying: error)
            router.finish(lease, outcome: QuotaOutcome(failure: failure), failure: failure)
            failure.rateLimit = nil
            // The wait is the deployment's, kept by its quota; the engine's backoff must not
            // hold the item for it when another deployment may take it.
            if Self.isDeployments(failure), router.hasAlternative(to: lease.index, among: candidates) {
                failure.isRetryable = true
                failure.retryAfter = nil
            }
            throw failure
        }
    }

    /// Whether a failure is the deployment's rather than the request's: another deployment
    /// may well answer it.
    static func isDeployments(_ failure: ItemError) -> Bool {
        switch failure.status {
        case 401?, 403?, 404?, 408?, 429?: return true
        case let status? where status >= 500: return true
        case nil: return failure.kind == .network || failure.kind == .timeout || failure.kind == .invalidResponse
        default: return false
        }
    }
}
