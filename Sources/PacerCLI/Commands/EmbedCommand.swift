import ArgumentParser
import PacerCore
import PacerHTTP
import PacerJobs
import PacerOpenAI

/// `pacer embed`: one embedding per text, many texts to a request.
struct EmbedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Embed every text of a file, many texts to a request, at the API's pace.",
        discussion: """
            INPUT holds one text per line, or JSONL lines with "text" (and an optional "id"). \
            Each output line is {"id", "embedding", "usage", "model", "success": true, …}, \
            the embedding as the server sent it (numbers, or a base64 string with \
            --encoding-format base64). Texts are packed into requests of up to 2,048 inputs \
            (--pack), about two seconds of --tpm and 8 MiB of vectors, so that a batch is \
            limited by tokens, not requests; a request the server refuses is split until the text it refused \
            stands alone, and only that text fails.
            """
    )

    @OptionGroup var run: RunOptions

    @OptionGroup var api: APIOptions

    @OptionGroup var routesOptions: RoutesOptions

    @OptionGroup var cacheOptions: CacheOptions

    @Option(help: "Embedding model.")
    var model: String = "text-embedding-3-small"

    @Option(help: "Size of the vectors, for models that take it (default: the model's).")
    var dimensions: Int?

    @Option(help: "float or base64.")
    var encodingFormat: String = "float"

    @Option(help: "Most texts in one request (default 2,048, OpenAI's limit).")
    var pack: Int?

    func validate() throws {
        try NumberCheck.within(dimensions, "--dimensions", 1...1_000_000)
        guard ["float", "base64"].contains(encodingFormat) else {
            throw ValidationError("--encoding-format must be float or base64, got '\(encodingFormat)'")
        }
        if let pack, !(1...2048).contains(pack) { throw ValidationError("--pack must be within 1...2048") }
        guard !run.ordered else {
            throw ValidationError(
                "--ordered is not available for embed yet: texts are packed, and a refused pack is split"
            )
        }
        guard run.format != .batch else {
            throw ValidationError("pacer embed reads texts; run OpenAI Batch API files with pacer batch")
        }
        try routesOptions.validate(with: run, tpm: api.tpm)
    }

    func run() async throws {
        throw try await cacheOptions.withCache(run) { try await embed(cache: $0) }
    }

    /// Embeds the texts with `cache` (each pack's answer kept and looked up whole); returns
    /// the exit status.
    private func embed(cache: ResponseCache?) async throws -> ExitCode {
        let environment = Environment.current
        var apiConfiguration = APIClient.Configuration(
            access: try api.access(run: run, environment: environment, keyOptional: routesOptions.routes != nil),
            pricing: try api.pricing()
        )
        apiConfiguration.cache = cache
        let configuration = EmbeddingsClient.Configuration(
            api: apiConfiguration,
            model: model,
            dimensions: dimensions,
            encodingFormat: encodingFormat == "float" ? nil : encodingFormat
        )
        let transportConfiguration = try run.transportConfiguration(environment: environment)
        // Without --dimensions, the model's own: 3,072 for the large models, else 1,536.
        let size = dimensions ?? (model.contains("large") ? 3072 : 1536)
        let limits = EmbeddingPacker.Limits.from(
            tokensPerMinute: api.tpm,
            pack: pack,
            bytesPerEmbedding: EmbeddingPacker.Limits.bytesPerEmbedding(
                dimensions: size,
                base64: encodingFormat == "base64"
            )
        )
        return try await HTTPTransport.withTransport(configuration: transportConfiguration) { transport in
            var engine = run.batchConfiguration(defaultTimeout: 60, tpm: api.tpm, probeFirst: true)
            var routedRun: RoutedRun?
            var routed: RoutedClient?
            if let routes = try routesOptions.client(
                run: run,
                environment: environment,
                transport: transport,
                client: configuration.api
            ) {
                // Every pack names --model: a model no deployment serves stops here.
                let client = routes.client
                guard client.models.contains(model) else {
                    throw InputError(
                        file: routesOptions.routes ?? "--routes",
                        message:
                            "no deployment serves the model '\(model)' (they serve \(client.models.sorted().joined(separator: ", ")))"
                    )
                }
                routed = client
                engine = RoutesOptions.engine(run, concurrency: routes.concurrency)
                routedRun = routes.run(engine: engine, options: run)
            }
            let client = EmbeddingsClient(configuration: configuration, transport: transport, routed: routed)
            var job = BatchJob(
                options: run,
                configuration: engine,
                operation: client,
                parser: .embeddings,
                unit: "texts",
                showTokens: true,
                feed: EmbeddingFeed(limits: limits)
            )
            if let cap = api.maxCost {
                let unpriced = UnpricedModels(warn: Console.error)
                job.costCap = (cap, { unpriced.maxUSD(client.costEstimate(for: $0)) })
            }
            if api.dryRun { job.dryRunEstimate = { client.costEstimate(for: $0) } }
            job.routes = routedRun
            return try await job.run()
        }
    }
}
