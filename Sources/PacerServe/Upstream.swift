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
    /// The client every batch's requests go through.
    package var client: APIClient
    /// How each batch's items are sent.
    package var run: RunSettings
    /// The quota all batches share: a shared one in PostgreSQL (`--quota`), or one of this
    /// server's own.
    package var quota: any QuotaProtocol<ContinuousClock>

    /// An upstream reached through `client`, sending as `run` says, pacing against `quota`
    /// (default: one quota for this server, from `run`'s limits).
    package init(client: APIClient, run: RunSettings, quota: (any QuotaProtocol<ContinuousClock>)? = nil) {
        self.client = client
        self.run = run
        self.quota =
            quota
            ?? Quota(
                limits: run.engine.pacing ?? RateLimits(learnFromServer: false),
                retryBudget: run.engine.retryBudget,
                clock: ContinuousClock()
            )
    }
}
