import PacerCore
import PacerJobs
import PacerOpenAI
import PacerPostgres

/// Who sends a server's batches.
package enum BatchBackend: Sendable {
    /// The server itself, against this upstream: each batch's journal is in the data folder.
    case upstream(Upstream)
    /// `pacer worker`s draining the queue in this database (`--db`): the server pushes each
    /// batch's lines, follows its counts, and exports its results when the workers are done.
    case queue(QueueDatabase)
}

/// The server a `pacer serve` runs its batches against, and how: the client (its root, key,
/// headers, prices), the engine's settings (`pacer batch`'s pacing flags), and the one quota
/// every batch paces against, so that several batches at once share the upstream's limits.
package struct Upstream: Sendable {
    /// Who every batch's requests go through: the server's client, or the deployments of
    /// `--routes`.
    package var sender: APISender
    /// How each batch's items are sent.
    package var run: RunSettings
    /// The quota all batches share: a shared one in PostgreSQL (`--quota`), or one of this
    /// server's own (with routes, one that paces nothing: each deployment has its own).
    package var quota: any QuotaProtocol<ContinuousClock>

    /// An upstream reached through `client`, sending as `run` says, pacing against `quota`
    /// (default: one quota for this server, from `run`'s limits).
    package init(client: APIClient, run: RunSettings, quota: (any QuotaProtocol<ContinuousClock>)? = nil) {
        self.init(sender: .direct(client), run: run, quota: quota)
    }

    /// An upstream sending through `sender` as `run` says, pacing against `quota` (default:
    /// one quota for this server, from `run`'s limits; none for routes, whose deployments
    /// pace in their own).
    package init(sender: APISender, run: RunSettings, quota: (any QuotaProtocol<ContinuousClock>)? = nil) {
        self.sender = sender
        self.run = run
        if let quota {
            self.quota = quota
        } else if case .routed = sender {
            self.quota = UnpacedQuota(retryBudget: run.engine.retryBudget, clock: ContinuousClock())
        } else {
            self.quota = Quota(
                limits: run.engine.pacing ?? RateLimits(learnFromServer: false),
                retryBudget: run.engine.retryBudget,
                clock: ContinuousClock()
            )
        }
    }
}
