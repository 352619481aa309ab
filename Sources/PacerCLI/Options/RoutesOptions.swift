import ArgumentParser
import PacerCore
import PacerHTTP
import PacerJobs
import PacerOpenAI

/// `--routes FILE`: one batch spread over several deployments of its models, each paced by
/// its own limits (``RoutesFile``, ``RoutedClient``).
struct RoutesOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "A JSON file of deployments to spread requests over, each with its own key, limits and concurrency.",
            discussion:
                #"{"deployments": [{"name", "base_url", "api_key_env", "models": ["gpt-4o-mini" or {"name", "as"}], optional "rpm", "tpm", "concurrency" (a number or "auto"), "weight", "headers", "provider", "azure", "api_version"}], "cooldown_seconds": 60}. Each request goes to the deployment serving its model that can start it soonest; a failing one is left out for its cooldown, then probed. --rpm, --tpm and --concurrency are then per deployment, in the file; --quota shares each deployment's limits with other processes, one row per deployment (NAME/DEPLOYMENT)."#,
            valueName: "file"
        )
    )
    var routes: String?

    /// Refuses run flags that the routes file sets per deployment.
    func validate(with run: RunOptions, tpm: Double?) throws {
        guard routes != nil else { return }
        if run.rpm != nil || tpm != nil {
            throw ValidationError("with --routes, give each deployment its \"rpm\" and \"tpm\" in the routes file")
        }
        if run.concurrencySetting != "8" {
            throw ValidationError("with --routes, give each deployment its \"concurrency\" in the routes file")
        }
    }

    /// What the routes file makes: the routed client, the most requests its deployments take
    /// at once (the engine's concurrency), and each deployment's limits.
    struct Routes: Sendable {
        /// Sends each request through a deployment of its model.
        var client: RoutedClient
        /// The most requests in flight over every deployment.
        var concurrency: Int
        /// Each deployment's limits, in the router's order: a shared quota's too.
        var limits: [RateLimits]

        /// What a job of this routed run with `engine` needs: the engine's quota, which paces
        /// nothing (each deployment paces in its own, shared through `--quota` when named),
        /// and the deployments' tallies for the summary.
        func run(engine: BatchConfiguration, options: RunOptions) -> RoutedRun {
            RoutedRun(
                router: client.router,
                limits: limits,
                quota: UnpacedQuota(
                    retryBudget: engine.retryBudget,
                    maxWait: .pacerSeconds(options.maxWait),
                    clock: ContinuousClock()
                )
            )
        }
    }

    /// The routed client the file names, over `transport`, the most requests its deployments
    /// take at once (the engine's concurrency) and their limits; `nil` without `--routes`.
    /// Each deployment's client has `client`'s prices; answers are kept in its cache.
    ///
    /// - Throws: ``InputError`` naming the routes file and line.
    func client(
        run: RunOptions,
        environment: [String: String],
        transport: HTTPTransport,
        client: APIClient.Configuration
    ) throws -> Routes? {
        let (pricing, cache) = (client.pricing, client.cache)
        guard let path = routes else { return nil }
        let file = try RoutesFile.read(path: path, environment: environment)
        var deployments: [RoutedClient.Deployment] = []
        var routed: [DeploymentRouter<ContinuousClock>.Deployment] = []
        var limits: [RateLimits] = []
        var concurrency = 0
        for deployment in file.deployments {
            var configuration = APIClient.Configuration(access: Self.access(deployment, run: run), pricing: pricing)
            configuration.cache = nil
            deployments.append(
                RoutedClient.Deployment(
                    client: APIClient(configuration: configuration, transport: transport),
                    models: deployment.models
                )
            )
            limits.append(
                RateLimits(
                    requestsPerMinute: deployment.rpm,
                    tokensPerMinute: deployment.tpm,
                    maxWait: .pacerSeconds(run.maxWait),
                    probeFirst: true
                )
            )
            // The retry budget is the engine's (``RoutedRun/quota``).
            let quota = Quota(limits: limits[limits.count - 1], retryBudget: nil)
            let adaptive =
                deployment.concurrency == nil
                ? AdaptiveConcurrency.Configuration(
                    initial: min(4, run.maxConcurrency),
                    minimum: run.minConcurrency,
                    maximum: run.maxConcurrency
                ) : nil
            routed.append(
                .init(
                    name: deployment.name,
                    quota: quota,
                    concurrency: deployment.concurrency ?? run.maxConcurrency,
                    weight: deployment.weight,
                    adaptive: adaptive
                )
            )
            concurrency += deployment.concurrency ?? run.maxConcurrency
        }
        let router = DeploymentRouter(deployments: routed, cooldown: file.cooldownSeconds, clock: ContinuousClock())
        return Routes(
            client: RoutedClient(deployments: deployments, router: router, cache: cache, pricing: pricing),
            concurrency: concurrency,
            limits: limits
        )
    }

    /// The engine's settings for a routed run: as many requests at once as the deployments
    /// take together, and no adaptive limit or probe of its own (each deployment has its own).
    static func engine(_ run: RunOptions, concurrency: Int) -> BatchConfiguration {
        var configuration = run.batchConfiguration(defaultTimeout: 60)
        configuration.maxConcurrent = concurrency
        configuration.adaptiveConcurrency = nil
        return configuration
    }

    /// How a deployment is reached: its root, its key and the header that carries it, its
    /// headers over `--header`'s.
    static func access(_ deployment: RoutesFile.Deployment, run: RunOptions) -> APIAccess {
        var base = deployment.baseURL
        var keyHeader = APIAccess.KeyHeader.bearer
        if deployment.provider == "anthropic" {
            while base.hasSuffix("/") { base.removeLast() }
            if !base.hasSuffix("/v1") { base += "/v1" }
            keyHeader = .anthropic(version: APIAccess.KeyHeader.anthropicVersion)
        } else if deployment.azure {
            keyHeader = .apiKey
            if deployment.apiVersion == nil, !base.contains("/openai/v1") {
                while base.hasSuffix("/") { base.removeLast() }
                base += "/openai/v1"
            }
        }
        return APIAccess(
            baseURL: base,
            apiKey: deployment.apiKey,
            keyHeader: keyHeader,
            azureAPIVersion: deployment.azure ? deployment.apiVersion : nil,
            headers: run.headerFields.merging(deployment.headers) { $1 }
        )
    }
}
