import ArgumentParser
import Foundation
import PacerSimulator

/// `pacer simulate`: the simulator in the foreground until Ctrl-C.
struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Run an OpenAI-compatible simulator server on 127.0.0.1 until Ctrl-C.",
        discussion: """
            Serves POST /v1/chat/completions, /v1/embeddings, /v1/completions, /v1/responses and \
            /v1/moderations, GET /v1/models, GET /posts/{id} and GET /stats. \
            Chat requests with "stream": true get Server-Sent Events, one chunk per token \
            (paced by --slots/--token-ms; --llama-quirks streams as llama.cpp's server does). \
            Point pacer at it with --base-url http://127.0.0.1:PORT/v1 (https with --tls-cert and \
            --tls-key; then pass the certificate to pacer with --ca-cert).
            """
    )

    @Option(help: "Port to listen on; 0 picks a free one.")
    var port: Int = 8080

    @Option(help: "Address to bind.")
    var host: String = "127.0.0.1"

    @Option(help: "Latency added to every API answer, in milliseconds.")
    var latencyMs: Int = 0

    @Option(help: "Share of API requests that get a fault, 0...1.")
    var failRate: Double = 0

    @Option(help: "Faults to choose from: \(Fault.all.map(\.name).joined(separator: ",")).")
    var faults: String = Fault.defaults.map(\.name).joined(separator: ",")

    @Option(help: "Seed for fault selection, for reproducible runs.")
    var seed: UInt64?

    @Option(help: "The wait a 429 fault asks for, in milliseconds.")
    var retryAfterMs: Int = 1000

    @Option(help: "How long a 'slow' fault takes, in milliseconds.")
    var slowMs: Int = 30_000

    @Option(help: "Requests per minute allowed; more are answered 429 with OpenAI's headers.")
    var rpm: Int?

    @Option(
        help:
            "Tokens per minute allowed (all endpoints): prompt estimate + max_tokens must fit; the real usage is charged."
    )
    var tpm: Int?

    @Option(help: "How limits are enforced: quantized (a bucket of one second's worth) or sliding (any 60 s window).")
    var limitWindow: LimitWindow = .quantized

    @Flag(help: "Answer every API request with 429 insufficient_quota.")
    var quotaExhausted = false

    @Flag(help: "Require 'Authorization: Bearer $OPENAI_API_KEY' on API requests.")
    var requireKey = false

    @Option(
        help: ArgumentHelp(
            "Answer 400 invalid_request_error to any request one of whose inputs contains this text.",
            discussion:
                "Inputs: chat message contents, the input strings of embeddings, moderations and responses, the prompt strings of completions. The error's param names the first such input (input[3], prompt[0], messages[1].content)."
        )
    )
    var rejectInputContaining: String?

    @Option(
        help:
            "Play a self-hosted server with this many parallel slots: each answer holds a slot for --token-ms per output token (a stream, to its end); more requests queue."
    )
    var slots: Int?

    @Option(
        help: ArgumentHelp(
            "Milliseconds per output token: with --slots, in a slot (default 20); without, between the chunks of a stream.",
            discussion:
                "With --slots, a step takes this long × (1 + 0.03 × (busy slots − 1)), continuous-batching style. Without --slots and without this option, a stream's chunks go out at once."
        )
    )
    var tokenMs: Int?

    @Flag(
        help: ArgumentHelp(
            "Stream as llama.cpp's server does: ': ping' comments, CRLF line ends, no usage chunk, and a running stream cut (ended with [DONE], no finish_reason) when another chat request arrives.",
            discussion: "How often an arrival cuts the oldest running stream is --cut-rate."
        )
    )
    var llamaQuirks = false

    @Option(
        help:
            "With --llama-quirks: the chance, 0...1, that a chat request arriving while streams run cuts the oldest of them (below 1, a client that re-sends cut streams always finishes)."
    )
    var cutRate: Double = 0.1

    @Option(help: "With --slots: the most requests waiting for a slot; more are answered 503 (as Ollama does).")
    var maxQueue: Int?

    @Option(help: "With --slots: halve the slots after this many requests (a server losing capacity mid-run).")
    var halveSlotsAfter: Int?

    @Option(help: "Serve HTTPS with this PEM certificate (chain); needs --tls-key.")
    var tlsCert: String?

    @Option(help: "The PEM private key of --tls-cert.")
    var tlsKey: String?

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be within 0...65535") }
        guard (0...1).contains(failRate) else {
            throw ValidationError("--fail-rate must be within 0...1, got \(failRate)")
        }
        guard latencyMs >= 0, retryAfterMs >= 0, slowMs >= 0 else {
            throw ValidationError("--latency-ms, --retry-after-ms and --slow-ms must not be negative")
        }
        _ = try parsedFaults()
        if let rpm, rpm < 1 { throw ValidationError("--rpm must be at least 1") }
        if let tpm, tpm < 1 { throw ValidationError("--tpm must be at least 1") }
        if let slots, slots < 1 { throw ValidationError("--slots must be at least 1") }
        guard (0...1).contains(cutRate) else {
            throw ValidationError("--cut-rate must be within 0...1, got \(cutRate)")
        }
        guard (tokenMs ?? 0) >= 0, (maxQueue ?? 0) >= 0 else {
            throw ValidationError("--token-ms and --max-queue must not be negative")
        }
        if rejectInputContaining?.isEmpty == true {
            throw ValidationError("--reject-input-containing needs a non-empty text")
        }
        if requireKey, Environment.current["OPENAI_API_KEY"]?.isEmpty ?? true {
            throw ValidationError("--require-key needs OPENAI_API_KEY to be set")
        }
        _ = try tls()
    }

    /// The TLS settings from `--tls-cert` and `--tls-key`, or `nil` for plain HTTP.
    func tls() throws(ValidationError) -> SimulatorTLS? {
        guard tlsCert != nil || tlsKey != nil else { return nil }
        guard let tlsCert, let tlsKey else { throw ValidationError("--tls-cert and --tls-key go together") }
        do {
            return try SimulatorTLS(certificateFile: tlsCert, privateKeyFile: tlsKey)
        } catch {
            throw ValidationError("--tls-cert/--tls-key: \(error)")
        }
    }

    func parsedFaults() throws -> [Fault] {
        try faults.split(separator: ",").map { name in
            guard let fault = Fault(name: String(name).trimmingCharacters(in: .whitespaces)) else {
                throw ValidationError(
                    "unknown fault '\(name)'; choose from \(Fault.all.map(\.name).joined(separator: ","))"
                )
            }
            return fault
        }
    }

    func run() async throws {
        let configuration = SimulatorConfiguration(
            host: host,
            port: port,
            latency: .milliseconds(latencyMs),
            faultRate: failRate,
            faults: try parsedFaults(),
            seed: seed,
            apiKey: requireKey ? Environment.current["OPENAI_API_KEY"] : nil,
            retryAfter: .milliseconds(retryAfterMs),
            slowDelay: .milliseconds(slowMs),
            requestsPerMinute: rpm,
            tokensPerMinute: tpm,
            limitWindow: limitWindow,
            quotaExhausted: quotaExhausted,
            tls: try tls(),
            rejectInputContaining: rejectInputContaining,
            slots: slots.map {
                SimulatorSlots(
                    count: $0,
                    tokenLatency: .milliseconds(tokenMs ?? 20),
                    maxQueue: maxQueue,
                    halveAfter: halveSlotsAfter
                )
            },
            streamTokenLatency: slots == nil ? tokenMs.map { .milliseconds($0) } : nil,
            llamaQuirks: llamaQuirks,
            cutRate: cutRate
        )
        let host = self.host
        let scheme = configuration.tls == nil ? "http" : "https"
        try await Simulator(configuration: configuration).run { port in
            Console.error(
                "pacer simulator listening on \(scheme)://\(host):\(port)  (use --base-url \(scheme)://\(host):\(port)/v1)"
            )
            let limits = [
                configuration.requestsPerMinute.map { "\($0) RPM" }, configuration.tokensPerMinute.map { "\($0) TPM" },
            ]
            .compactMap { $0 }.joined(separator: ", ")
            Console.error(
                "latency \(configuration.latency), fail rate \(configuration.faultRate) [\(configuration.faults.map(\.name).joined(separator: ","))]"
                    + (limits.isEmpty ? "" : ", limits \(limits) (\(configuration.limitWindow.rawValue))")
                    + (configuration.rejectInputContaining.map { ", rejecting inputs containing '\($0)'" } ?? "")
                    + (configuration.llamaQuirks
                        ? ", llama.cpp streaming quirks (cut rate \(configuration.cutRate))" : "")
                    + "; Ctrl-C to stop"
            )
        }
    }
}

extension LimitWindow: ExpressibleByArgument {}
