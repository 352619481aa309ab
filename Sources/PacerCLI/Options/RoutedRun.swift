import PacerCore
import PacerPostgres

/// The engine's side of a routed run (`--routes`): its quota, which paces nothing since each
/// deployment paces in its own, the deployments' tallies for the summary and the metrics, and
/// the deployments' shared quotas when `--quota` names a database.
struct RoutedRun: Sendable {
    /// The router the run's requests go through.
    let router: DeploymentRouter<ContinuousClock>
    /// Each deployment's limits, in the router's order.
    let limits: [RateLimits]
    /// The engine's quota: it keeps the retry budget and admits at once.
    let quota: UnpacedQuota<ContinuousClock>

    /// What each deployment did so far.
    @Sendable func tallies() -> [DeploymentTally] { router.tallies }

    /// Runs `body` with the engine's quota. When `--quota` (or `PACER_QUOTA_URL`, else
    /// `fallback`) names a shared quota `NAME`, each deployment paces against its own row,
    /// `NAME/DEPLOYMENT`, with every other process that sends to it meanwhile; without, each
    /// paces in this process.
    func sharing<T: Sendable>(
        _ options: RunOptions,
        fallback: (database: QueueDatabase, name: String)? = nil,
        _ body: (any QuotaProtocol<ContinuousClock>) async throws -> T
    ) async throws -> T {
        let wanted = zip(router.deployments, limits).map { deployment, limits in
            SharedQuotaOption.Wanted(suffix: deployment.name, limits: limits, retryBudget: nil)
        }
        return try await SharedQuotaOption.with(options, quotas: wanted, fallback: fallback) { shared in
            guard let shared else { return try await body(quota) }
            return try await router.withQuotas(shared) { try await body(quota) }
        }
    }
}
