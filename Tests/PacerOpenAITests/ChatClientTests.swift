import Foundation
import Logging
import NIOCore
import NIOHTTP1
import PacerCore
import PacerHTTP
import PacerJSON
import PacerSimulator
import PacerTesting
import Synchronization
import Testing

@testable import PacerOpenAI

@Suite struct ChatClientTests {
    static let key = "sk-test-pacer-0123456789abcdef"

    func runner(retries: Int = 8, logger: Logger? = nil) -> BatchRunner<ContinuousClock> {
        BatchRunner(
            configuration: BatchConfiguration(
                maxConcurrent: 4,
                attemptTimeout: .seconds(5),
                retry: RetryPolicy(
                    maxRetries: retries,
                    backoff: Backoff(base: .milliseconds(5), cap: .milliseconds(50))
                ),
                // Half the requests fail in some of these tests: more retries than a budget allows.
                retryBudget: nil
            ),
            random: .seeded(2),
            logger: logger ?? Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        )
    }

    func client(
        _ server: Simulator.Running,
        _ transport: HTTPTransport,
        key: String? = key,
        model: String = "gpt-4o-mini",
        maxTokens: Int? = 50
    ) -> ChatClient {
        ChatClient(
            configuration: .init(baseURL: server.baseURL, apiKey: key, model: model, maxTokens: maxTokens),
            transport: transport
        )
    }

    @Test func completesPromptsWithTheReferenceFieldsAndCost() async throws {
        try await withSimulator(SimulatorConfiguration(apiKey: Self.key)) { server in
            try await HTTPTransport.withTransport { transport in
                let prompts = ["What is Python?", "What is async?", "What is AI?"].map(ChatPrompt.init)
                let (results, summary) = try await runner().collect(prompts, operation: client(server, transport))
                #expect(summary.succeeded == 3)
                for (prompt, result) in zip(prompts, results) {
                    let output = try #require(result.output)
                    #expect(output.prompt == prompt.text)
                    #expect(output.response?.isEmpty == false)
                    #expect(output.usage.total == output.usage.prompt + output.usage.completion)
                    #expect(output.usage.completion <= 50)
                    #expect(output.model == "gpt-4o-mini")
                    let price = try #require(PricingTable.builtIn.price(for: "gpt-4o-mini"))
                    #expect(output.costUSD == price.cost(of: output.usage))
                }
                #expect(summary.tokens.total == server.stats.snapshot().tokens.total)
                #expect(summary.costUSD ?? 0 > 0)
            }
        }
    }

    @Test func anUnknownModelHasAnUnknownCostNotZero() async throws {
        try await withSimulator { server in
            try await HTTPTransport.withTransport { transport in
                let (results, summary) = try await runner().collect(
                    [ChatPrompt("hi")],
                    operation: client(server, transport, key: nil, model: "my-local-llama")
                )
                #expect(results[0].output?.costUSD == nil)
                #expect(summary.costUSD == nil)
                #expect(summary.itemsWithUnknownCost == 1)
            }
        }
    }

    @Test func aWrongKeyIs401PermanentAndTheKeyAppearsNowhere() async throws {
        let logs = CapturedLogs()
        var logger = Logger(label: "test", factory: { _ in logs.handler() })
        logger.logLevel = .trace
        let wrongKey = "sk-wrong-key-that-must-stay-secret"
        try await withSimulator(SimulatorConfiguration(apiKey: Self.key)) { server in
            try await HTTPTransport.withTransport { transport in
                let (results, _) = try await runner(logger: logger).collect(
                    [ChatPrompt("hi")],
                    operation: client(server, transport, key: wrongKey)
                )
                let error = try #require(results[0].error)
                #expect(error.status == 401)
                #expect(error.kind == .httpStatus)
                #expect(results[0].attempts == 1)
                #expect(!error.message.contains(wrongKey))
                // The simulator echoes the key it was given; Pacer must have removed it.
                #expect(error.message.contains("Incorrect API key provided: [REDACTED]"))
                #expect(!logs.lines.isEmpty)
                #expect(logs.lines.allSatisfy { !$0.contains(wrongKey) })
            }
        }
    }

    @Test func aBadRequestIs400PermanentWithOpenAIsMessage() async throws {
        try await withSimulator { server in
            try await HTTPTransport.withTransport { transport in
                let prompt = ChatPrompt(messages: [.user("hi")], maxTokens: 0)
                let (results, _) = try await runner().collect([prompt], operation: client(server, transport, key: nil))
                #expect(results[0].error?.status == 400)
                #expect(results[0].error?.message.contains("max_tokens") == true)
                #expect(results[0].attempts == 1)
            }
        }
    }

    @Test func faultsAreRetriedUntilEveryPromptSucceeds() async throws {
        let configuration = SimulatorConfiguration(
            faultRate: 0.3,
            faults: Fault.defaults + [.malformed],
            seed: 11,
            retryAfter: .milliseconds(10)
        )
        try await withSimulator(configuration) { server in
            try await HTTPTransport.withTransport { transport in
                let prompts = (1...40).map { ChatPrompt("prompt \($0)") }
                let (results, summary) = try await runner().collect(
                    prompts,
                    operation: client(server, transport, key: nil)
                )
                #expect(summary.succeeded == 40, "\(results.compactMap(\.error))")
                #expect(summary.retries > 0)
                // The tokens Pacer counted are exactly those the server delivered whole.
                #expect(summary.tokens == server.stats.snapshot().tokens)
            }
        }
    }

    @Test(arguments: [Fault.refusal, .toolCalls])
    func aRefusalOrToolCallsAreAnAnswerWithTheWholeMessage(fault: Fault) async throws {
        try await withSimulator(SimulatorConfiguration(faultRate: 1, faults: [fault], seed: 1)) { server in
            try await HTTPTransport.withTransport { transport in
                let (results, summary) = try await runner().collect(
                    [ChatPrompt("hi")],
                    operation: client(server, transport, key: nil)
                )
                #expect(summary.succeeded == 1)
                #expect(results[0].attempts == 1)
                #expect(server.stats.snapshot().requests == 1)
                let output = try #require(results[0].output)
                #expect(output.response == nil)
                #expect(output.message["content"] == .null)
                #expect(output.completion?.choices.first?.message.content == nil)
                if fault == .refusal {
                    #expect(output.refusal?.contains("simulated refusal") == true)
                    #expect(output.toolCalls == nil)
                } else {
                    #expect(output.refusal == nil)
                    guard case .array(let calls)? = output.toolCalls else {
                        Issue.record("no tool_calls: \(output.message)")
                        return
                    }
                    #expect(calls.first?["function"]?["name"] == .string("lookup"))
                    #expect(output.completion?.choices.first?.finishReason == "tool_calls")
                }
            }
        }
    }

    @Test(
        arguments: [
            (#"{"choices":[{"message":{"content":null,"refusal":"no"}}]}"#, nil),
            (
                #"{"choices":[{"message":{"content":"x","annotations":[]}}],"usage":null,"system_fingerprint":"fp"}"#,
                nil
            ),
            (
                #"{"choices":[{"message":{"content":5}}]}"#,
                "choices[0].message.content is a number, not a string or null"
            ),
            (#"{"choices":["x"]}"#, "choices[0] is a string, not an object"),
            (
                #"{"choices":[{"message":{"content":"x"}}],"usage":{"prompt_tokens":1e300}}"#,
                "usage.prompt_tokens is 1e300, not a non-negative integer"
            ),
            (#"{"choices":[],"model":3}"#, "model is a number, not a string or null"),
        ] as [(String, String?)]
    )
    func aCompletionIsReadLenientlyButNotOfTheWrongType(body: String, problem: String?) throws {
        let json = try JSONValue(parsing: body)
        do throws(ChatBodyProblem) {
            let (completion, message) = try ChatCompletionResponse.read(
                ByteBuffer(string: body),
                requestedModel: "asked-for"
            )
            #expect(problem == nil)
            #expect(completion.model == "asked-for")
            // The message exactly as sent, whatever else it carries.
            guard case .array(let choices)? = json["choices"] else {
                Issue.record("no choices: \(body)")
                return
            }
            #expect(message == choices.first?["message"])
        } catch {
            guard case .shape(let shape) = error else {
                Issue.record("\(error) for \(body)")
                return
            }
            #expect(shape.message == problem)
        }
    }

    @Test(
        arguments: [
            // Cut off after a member of the wrong type: cut off is what counts (retryable).
            (#"{"choices":[{"message":{"content":5}}],"usage":{"prompt_to"#, "notJSON"),
            // Invalid JSON in a member Pacer skips.
            (#"{"choices":[{"message":{"content":"x"},"logprobs":[1,]}]}"#, "notJSON"),
            (#"{"choices":[{"message":{"content":"x"}}]} trailing"#, "notJSON"),
            (#"[{"choices":[]}]"#, "notAChatCompletion"),
            (#"{"choices":{"message":{}}}"#, "notAChatCompletion"),
            (#"{"choices":[],"choices":3}"#, "notAChatCompletion"),
            (#"{"error":"busy"}"#, "notAChatCompletion"),
            (#"{"choices":[]}"#, "noChoice"),
            (#"{"id":"a","choices":[{"message":{"content":"x","role":"assistant"},"finish_reason":"stop"}]}"#, "ok"),
        ] as [(String, String)]
    )
    func theByteReaderTellsCutOffFromNotAChatCompletionFromNoChoice(body: String, expected: String) {
        let outcome: String
        do throws(ChatBodyProblem) {
            let (completion, message) = try ChatCompletionResponse.read(ByteBuffer(string: body), requestedModel: "m")
            #expect(completion.choices.first?.message.content == "x" && message["content"] == .string("x"))
            outcome = "ok"
        } catch {
            switch error {
            case .notJSON: outcome = "notJSON"
            case .notAChatCompletion: outcome = "notAChatCompletion"
            case .shape: outcome = "shape"
            case .noChoice: outcome = "noChoice"
            }
        }
        #expect(outcome == expected, "\(body)")
    }

    @Test func insufficientQuotaIsNotRetried() throws {
        let body =
            #"{"error":{"message":"You exceeded your current quota.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#
        let error = ChatClient.failure(for: HTTPResponseData(status: 429, headers: [:], body: .init(string: body)))
        #expect(error.kind == .rateLimited)
        #expect(error.isRetryable == false)
        #expect(error.message.contains("quota"))
    }

    @Test(arguments: [
        ("gpt-4o-mini", true), ("gpt-4o-mini-2024-07-18", true), ("gpt-4.1", true), ("gpt-3.5-turbo", true),
        ("llama3", false),
    ])
    func pricingKnowsTheListedModelsAndTheirSnapshots(model: String, known: Bool) {
        #expect((PricingTable.builtIn.price(for: model) != nil) == known)
    }

    @Test func completionsURLJoinsTheBaseURL() {
        #expect(ChatClient.Configuration(baseURL: "http://h:1/v1/").completionsURL == "http://h:1/v1/chat/completions")
        #expect(
            ChatClient.Configuration(baseURL: "https://api.openai.com/v1").completionsURL
                == "https://api.openai.com/v1/chat/completions"
        )
    }
}

/// A log handler that keeps every rendered line, with its metadata.
final class CapturedLogs: Sendable {
    private let storage = Mutex<[String]>([])
    var lines: [String] { storage.withLock { $0 } }

    func handler() -> some LogHandler { Handler(logs: self) }

    struct Handler: LogHandler {
        let logs: CapturedLogs
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let all = metadata.merging(event.metadata ?? [:]) { $1 }
            logs.storage.withLock { $0.append("\(event.message) \(all)") }
        }
    }
}
