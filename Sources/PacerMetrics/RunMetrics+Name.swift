extension RunMetrics {
    /// The name of each metric a run reports, in Prometheus style: a `pacer_` prefix, the
    /// unit in the name, `_total` on counters.
    public enum Name: String, Sendable, CaseIterable {
        /// Counter: items that succeeded.
        case itemsSucceeded = "pacer_items_succeeded_total"
        /// Counter, label `kind` (an `ItemError/Kind`: `rate_limited`, `timeout`,
        /// `http_status`, `network`, `invalid_response`, `invalid_input`): items that failed.
        case itemsFailed = "pacer_items_failed_total"
        /// Counter: items stopped before they were done (a rerun does them).
        case itemsCancelled = "pacer_items_cancelled_total"
        /// Gauge: items started and not ended (on the wire, waiting for the quota, or backing off).
        case itemsInFlight = "pacer_items_in_flight"
        /// Counter, label `outcome` (`success`, or the failure's `ItemError/Kind`): requests sent.
        case attempts = "pacer_attempts_total"
        /// Counter: HTTP 429 answers.
        case rateLimitedResponses = "pacer_rate_limited_responses_total"
        /// Counter: attempts beyond each item's first.
        case retries = "pacer_retries_total"
        /// Gauge: the most requests allowed in flight (with `--concurrency auto`, the limit now).
        case concurrencyLimit = "pacer_concurrency_limit"
        /// Counter: seconds every request was held because the server asked (a 429 or `Retry-After`).
        case quotaPausedSeconds = "pacer_quota_paused_seconds_total"
        /// Counter, label `type` (`prompt`, `completion`): tokens the servers reported for the
        /// items that succeeded.
        case tokens = "pacer_tokens_total"
        /// Counter: estimated cost in USD of the items whose cost is known.
        case cost = "pacer_cost_usd_total"
        /// Histogram: item latency, from its first attempt's start to its last's end, backoff
        /// included (as the summary's), of the items that succeeded or failed.
        case itemLatency = "pacer_item_latency_seconds"
        /// Histogram: time to first token of streamed answers.
        case timeToFirstToken = "pacer_time_to_first_token_seconds"
        /// Counter: requests sent to each deployment of `--routes` (label `deployment`).
        case deploymentRequests = "pacer_deployment_requests_total"
        /// Counter: each deployment's 429 answers (label `deployment`).
        case deploymentRateLimited = "pacer_deployment_rate_limited_responses_total"
        /// Counter: tokens each deployment's answers reported (labels `deployment`, `type`:
        /// `prompt` or `completion`).
        case deploymentTokens = "pacer_deployment_tokens_total"
        /// Counter: what each deployment's answers cost, in USD (label `deployment`).
        case deploymentCost = "pacer_deployment_cost_usd_total"
    }
}
