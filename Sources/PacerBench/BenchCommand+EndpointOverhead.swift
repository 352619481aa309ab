import Foundation
import NIOCore
import NIOHTTP1
import PacerCLI
import PacerCore
import PacerHTTP
import PacerJSON
import PacerOpenAI

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The client's CPU per request for each API endpoint, in the three rows fetch has: the HTTP
/// client alone sending the same bodies, the engine in this process, and the command from a
/// file in a process of its own (issue 12).
extension BenchCommand {
    /// An endpoint measured by the overhead section, and the request it sends for item `n`.
    enum OverheadEndpoint: String, CaseIterable {
        case chat = "chat/completions"
        case embeddings
        case responses
        case completions

        var endpoint: APIEndpoint {
            switch self {
            case .chat: .chatCompletions
            case .embeddings: .embeddings
            case .responses: .responses
            case .completions: .completions
            }
        }

        /// The request body of item `n`: small prompts, 16 tokens of answer, 256 dimensions
        /// of embedding (a small model's answer, 5 KB).
        func body(_ n: Int) -> JSONValue {
            switch self {
            case .chat:
                .object([
                    "model": .string("gpt-4o-mini"),
                    "messages": .array([.object(["role": .string("user"), "content": .string("overhead prompt \(n)")])]
                    ),
                    "max_tokens": .number(JSONNumber(16)),
                ])
            case .embeddings:
                .object([
                    "model": .string("text-embedding-3-small"), "input": .string("overhead text \(n)"),
                    "dimensions": .number(JSONNumber(256)),
                ])
            case .responses:
                .object([
                    "model": .string("gpt-4o-mini"), "input": .string("overhead prompt \(n)"),
                    "max_output_tokens": .number(JSONNumber(16)),
                ])
            case .completions:
                .object([
                    "model": .string("gpt-3.5-turbo-instruct"), "prompt": .string("overhead prompt \(n)"),
                    "max_tokens": .number(JSONNumber(16)),
                ])
            }
        }
    }

    /// The same POSTs with ``HTTPTransport`` alone (bodies encoded beforehand, answers
    /// collected, not decoded) by `concurrency` plain tasks.
    func endpointTransportRun(_ kind: OverheadEndpoint, count: Int, concurrency: Int) async throws -> CostResult {
        try await SimulatorProcess.withRunning { simulator in
            let url = "\(simulator.rootURL)/v1/\(kind.endpoint.path)"
            let headers: HTTPHeaders = ["Content-Type": "application/json"]
            return try await transportRun(
                section: "\(kind.rawValue): HTTP client alone",
                count: count,
                concurrency: concurrency
            ) { n in
                var bytes: [UInt8] = []
                kind.body(n).write(to: &bytes)
                return HTTPRequestSpec(method: .POST, url: url, headers: headers, body: ByteBuffer(bytes: bytes))
            }
        }
    }

    /// The engine in this process: ``ChatClient`` for chat, ``APIClient`` (what `pacer batch`
    /// sends with) for the others.
    func endpointEngineRun(_ kind: OverheadEndpoint, count: Int, concurrency: Int) async throws -> CostResult {
        try await SimulatorProcess.withRunning { simulator in
            let baseURL = simulator.rootURL + "/v1"
            let section = "\(kind.rawValue): engine in-process"
            if kind == .chat {
                return try await engineRun(
                    section: section,
                    concurrency: concurrency,
                    items: (0..<count).map {
                        BatchItem(index: $0, id: String($0), input: ChatPrompt("overhead prompt \($0)"))
                    },
                    operation: { ChatClient(configuration: .init(baseURL: baseURL, maxTokens: 16), transport: $0) }
                )
            }
            return try await engineRun(
                section: section,
                concurrency: concurrency,
                items: (0..<count).map {
                    BatchItem(
                        index: $0,
                        id: String($0),
                        input: APIRequest(endpoint: kind.endpoint, body: kind.body($0))
                    )
                },
                operation: { APIClient(configuration: .init(baseURL: baseURL), transport: $0) }
            )
        }
    }

    /// The command from a file in a process of its own: `pacer chat` over text prompts, or
    /// `pacer batch` over Batch API lines for the endpoint.
    func endpointCLIRun(_ kind: OverheadEndpoint, count: Int, concurrency: Int) async throws -> CostResult {
        try await SimulatorProcess.withRunning { simulator in
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
                "pacer-bench-endpoint-\(getpid())-\(count)"
            )
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: folder) }
            let input = folder.appendingPathComponent("in.jsonl")
            let output = folder.appendingPathComponent("out.jsonl")
            var text = ""
            for n in 0..<count {
                if kind == .chat {
                    text += "overhead prompt \(n)\n"
                } else {
                    var line: [UInt8] = []
                    JSONValue.object([
                        "custom_id": .string("r\(n)"), "method": .string("POST"),
                        "url": .string("/v1/\(kind.endpoint.path)"), "body": kind.body(n),
                    ]).write(to: &line)
                    text += String(decoding: line, as: UTF8.self) + "\n"
                }
            }
            try Data(text.utf8).write(to: input)
            let command =
                kind == .chat
                ? ["chat", input.path, "--max-tokens", "16"] : ["batch", input.path]
            let start = ContinuousClock.now
            let client = try ChildProcess.spawn(
                ChildProcess.pacerExecutable,
                command + [
                    "-o", output.path, "--base-url", simulator.rootURL + "/v1", "--concurrency", String(concurrency),
                    "--quiet",
                ]
            )
            let ending = await client.wait()
            let wall = start.duration(to: .now).pacerSeconds
            guard ending.status == 0 else {
                throw BenchError("pacer \(command[0]) of \(count) items exited with status \(ending.status)")
            }
            let written = try String(contentsOf: output, encoding: .utf8).split(separator: "\n").count
            return CostResult(
                section: "\(kind.rawValue): pacer \(command[0])",
                items: count,
                concurrency: concurrency,
                wallSeconds: wall,
                itemsPerSecond: Double(count) / wall,
                cpuMicrosecondsPerItem: ending.cpuSeconds / Double(count) * 1e6,
                peakRSSBytes: ending.peakRSSBytes,
                failed: count - written
            )
        }
    }

    /// Every endpoint's three rows, measured in turn (see ``interleaved(_:)``).
    func endpointOverheadResults(
        count: Int,
        concurrency: Int
    ) async throws -> [(rows: [CostResult], ratio: Double, rounds: String)] {
        var results: [(rows: [CostResult], ratio: Double, rounds: String)] = []
        for kind in OverheadEndpoint.allCases {
            results.append(
                try await interleaved([
                    { try await endpointTransportRun(kind, count: count, concurrency: concurrency) },
                    { try await endpointEngineRun(kind, count: count, concurrency: concurrency) },
                    { try await endpointCLIRun(kind, count: count, concurrency: concurrency) },
                ])
            )
        }
        return results
    }
}
