import ArgumentParser
import Foundation
import PacerCore
import PacerHTTP
import PacerJobs
import PacerOpenAI

/// `pacer chat`: one chat completion per prompt, against any OpenAI-compatible server.
struct ChatCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat",
        abstract: "Send one chat completion per prompt to an OpenAI-compatible API.",
        discussion: """
            INPUT holds one prompt per line, or JSONL lines with "prompt" or "messages" (and \
            optional "id", "model", "max_tokens", "temperature"). The key is read from \
            OPENAI_API_KEY; the API root from --base-url or OPENAI_BASE_URL. With --provider \
            anthropic, each prompt goes to Claude's Messages API (system messages as its \
            "system"), with the same output lines.
            """
    )

    @OptionGroup var run: RunOptions

    @OptionGroup var api: APIOptions

    @OptionGroup var streamOptions: StreamOptions

    @OptionGroup var cacheOptions: CacheOptions

    @OptionGroup var routesOptions: RoutesOptions

    @Option(
        help: "Model to use unless a line names one (default: gpt-4o-mini; claude-haiku-4-5 with --provider anthropic)."
    )
    var model: String?

    @Option(help: "Most tokens per answer (default: the server's; 1024 with --provider anthropic, which requires one).")
    var maxTokens: Int?

    @Option(help: "Sampling temperature (default: the server's).")
    var temperature: Double?

    @Option(help: "A system message put before every prompt.")
    var system: String?

    func validate() throws {
        try NumberCheck.within(maxTokens, "--max-tokens", 1...NumberCheck.largestCount)
        if let temperature, !(0...2).contains(temperature) {
            throw ValidationError("--temperature must be within 0...2")
        }
        try routesOptions.validate(with: run, tpm: api.tpm)
        if routesOptions.routes != nil, streamOptions.streaming != nil || api.provider == .anthropic {
            throw ValidationError(
                "--routes sends plain chat completions: it does not go with --stream or --provider (give each deployment its \"provider\")"
            )
        }
        if api.provider == .anthropic, streamOptions.streaming != nil {
            throw ValidationError("--stream is not supported with --provider anthropic; answers are read whole")
        }
    }

    func run() async throws {
        throw try await cacheOptions.withCache(run) { cache in
            api.provider == .anthropic ? try await runMessages(cache: cache) : try await runChat(cache: cache)
        }
    }

    /// Sends the prompts as chat completions with `cache`; returns the exit status.
    private func runChat(cache: ResponseCache?) async throws -> ExitCode {
        let environment = Environment.current
        var clientConfiguration = ChatClient.Configuration(
            access: try api.access(run: run, environment: environment, keyOptional: routesOptions.routes != nil),
            model: model ?? "gpt-4o-mini",
            maxTokens: maxTokens,
            temperature: temperature,
            systemPrompt: system,
            pricing: try api.pricing()
        )
        clientConfiguration.streaming = streamOptions.streaming
        clientConfiguration.cache = cache
        let transportConfiguration = try run.transportConfiguration(environment: environment)
        return try await HTTPTransport.withTransport(configuration: transportConfiguration) { transport in
            let client = ChatClient(configuration: clientConfiguration, transport: transport)
            var apiConfiguration = APIClient.Configuration(
                access: clientConfiguration.access,
                pricing: clientConfiguration.pricing
            )
            apiConfiguration.cache = clientConfiguration.cache
            if let routes = try routesOptions.client(
                run: run,
                environment: environment,
                transport: transport,
                client: apiConfiguration
            ) {
                return try await runRouted(RoutedChatClient(chat: client, routed: routes.client), routes: routes)
            }
            var job = BatchJob(
                options: run,
                // Chat APIs are rate limited: learn the limits from one request before sending a wave.
                configuration: run.batchConfiguration(defaultTimeout: 60, tpm: api.tpm, probeFirst: true),
                operation: client,
                parser: .chat,
                unit: "prompts",
                showTokens: true,
                makeLine: { [outputFormat = run.outputFormat] item, result in
                    outputFormat == .batch
                        ? BatchOutputLine(result) as any OutputRecord : OutputLine.chat(result, prompt: item.input.text)
                }
            )
            api.applyCostOptions(to: &job) { client.costEstimate(for: $0) }
            return try await job.run()
        }
    }

    /// `--routes`: each prompt to a deployment of its model, written as a chat line.
    private func runRouted(_ client: RoutedChatClient, routes: RoutesOptions.Routes) async throws -> ExitCode {
        let configuration = RoutesOptions.engine(run, concurrency: routes.concurrency)
        var job = BatchJob(
            options: run,
            configuration: configuration,
            operation: client,
            parser: ItemParser<ChatPrompt>.chat.served(
                by: client.routed.models,
                routes: routesOptions.routes ?? "the routes"
            ) {
                [chat = client.chat] in chat.request(for: $0).model
            },
            unit: "prompts",
            showTokens: true,
            makeLine: { [outputFormat = run.outputFormat] item, result in
                outputFormat == .batch
                    ? BatchOutputLine(result) as any OutputRecord : OutputLine.chat(result, prompt: item.input.text)
            }
        )
        api.applyCostOptions(to: &job) { client.chat.costEstimate(for: $0) }
        job.routes = routes.run(engine: configuration, options: run)
        return try await job.run()
    }

    /// `--provider anthropic`: each prompt to the Messages API, written as a chat line.
    private func runMessages(cache: ResponseCache?) async throws -> ExitCode {
        let environment = Environment.current
        var apiConfiguration = APIClient.Configuration(
            access: try api.access(run: run, environment: environment),
            pricing: try api.pricing()
        )
        apiConfiguration.cache = cache
        let configuration = MessagesChatClient.Configuration(
            model: model ?? "claude-haiku-4-5",
            maxTokens: maxTokens ?? 1024,
            temperature: temperature,
            systemPrompt: system
        )
        let transportConfiguration = try run.transportConfiguration(environment: environment)
        return try await HTTPTransport.withTransport(configuration: transportConfiguration) { transport in
            let client = MessagesChatClient(
                configuration: configuration,
                client: APIClient(configuration: apiConfiguration, transport: transport)
            )
            var job = BatchJob(
                options: run,
                configuration: run.batchConfiguration(defaultTimeout: 60, tpm: api.tpm, probeFirst: true),
                operation: client,
                parser: .chat,
                unit: "prompts",
                showTokens: true,
                makeLine: { item, result in OutputLine.chat(result, prompt: item.input.text) }
            )
            api.applyCostOptions(to: &job) { client.costEstimate(for: $0) }
            return try await job.run()
        }
    }
}
