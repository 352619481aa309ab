import Foundation
import NIOCore
import NIOHTTP1
import PacerCore
import PacerHTTP
import PacerJobs

/// `pacer bench --sections serve`: a batch through `pacer serve` (a process of its own)
/// against `pacer simulate --rpm 30000` (another), driven over the API as openai-python
/// drives it. The server must add no bottleneck: the batch runs at the upstream's limit, and
/// its CPU per line and peak RSS are measured (the RSS flat in the batch's size).
extension BenchCommand {
    struct ServeResult: Codable {
        var lines: Int
        var limitPerMinute: Int
        var steadyPerMinute: Double
        var ratio: Double
        var wallSeconds: Double
        var rateLimited: Int
        var serverCPUMicrosecondsPerLine: Double
        var serverPeakRSSMiB: Double
    }

    func runServe() async throws {
        var results: [ServeResult] = []
        for lines in [10_000, 50_000] {
            results.append(try await median(by: \.ratio) { try await serveRun(lines: lines, limit: 30_000) })
        }
        try printResults(
            results,
            title:
                "pacer serve: a chat batch created, polled and downloaded over the API, the server and the simulator\n"
                + "(--rpm 30000, quantized, 20 ms) each a process of its own; steady = completions between 5 s in and the last poll before the end.",
            header: [
                "lines", "limit RPM", "steady RPM", "steady/limit", "wall s", "429s", "server CPU µs/line",
                "server peak RSS MiB",
            ]
        ) { result in
            [
                String(result.lines), String(result.limitPerMinute),
                SummaryText.format(result.steadyPerMinute, digits: 0),
                SummaryText.format(result.ratio, digits: 3),
                SummaryText.format(result.wallSeconds, digits: 1), String(result.rateLimited),
                SummaryText.format(result.serverCPUMicrosecondsPerLine, digits: 0),
                SummaryText.format(result.serverPeakRSSMiB, digits: 1),
            ]
        }
    }

    private func serveRun(lines: Int, limit: Int) async throws -> ServeResult {
        try await SimulatorProcess.withRunning(["--rpm", String(limit), "--latency-ms", "20"]) { simulator in
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pacer-bench-serve-\(getpid())")
            try? FileManager.default.removeItem(at: folder)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: folder) }
            let log = folder.appendingPathComponent("serve.log")
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            let handle = try FileHandle(forWritingTo: log)
            defer { try? handle.close() }
            let server = try ChildProcess.spawn(
                ChildProcess.pacerExecutable,
                [
                    "serve", "--port", "0", "--data", folder.appendingPathComponent("data").path,
                    "--base-url", simulator.rootURL + "/v1", "--concurrency", "64",
                ],
                stderr: handle.fileDescriptor
            )
            let ending: ChildProcess.Ending
            let measured: (steady: Double, wall: Double)
            do {
                let port = try await ChildProcess.port(
                    after: "listening on http://127.0.0.1:",
                    in: log,
                    of: "pacer serve"
                )
                let base = "http://127.0.0.1:\(port)/v1"
                measured = try await HTTPTransport.withTransport(configuration: .init(maxBodyBytes: 256 << 20)) {
                    try await Self.driveBatch(lines: lines, base: base, transport: $0)
                }
            } catch {
                server.send(SIGKILL)
                _ = await server.wait()
                throw error
            }
            server.send(SIGTERM)
            ending = await server.wait()
            let stats = try await HTTPTransport.withTransport {
                try await $0.send(HTTPRequestSpec(url: simulator.rootURL + "/stats"))
            }
            let json = try JSONSerialization.jsonObject(with: Data(stats.body.readableBytesView)) as? [String: Any]
            let rateLimited = (json?["by_status"] as? [String: Int])?["429"] ?? 0
            return ServeResult(
                lines: lines,
                limitPerMinute: limit,
                steadyPerMinute: measured.steady,
                ratio: measured.steady / Double(limit),
                wallSeconds: measured.wall,
                rateLimited: rateLimited,
                serverCPUMicrosecondsPerLine: ending.cpuSeconds / Double(lines) * 1e6,
                serverPeakRSSMiB: Double(ending.peakRSSBytes) / 1_048_576
            )
        }
    }

    /// Uploads `lines` chat lines, creates the batch, polls it every 0.5 s until it is over,
    /// and downloads its output; returns the steady rate and the wall time from creation.
    private static func driveBatch(
        lines: Int,
        base: String,
        transport: HTTPTransport
    ) async throws -> (steady: Double, wall: Double) {
        let authorization: HTTPHeaders = ["Authorization": "Bearer sk-bench"]
        func call(
            _ method: HTTPMethod,
            _ path: String,
            _ headers: HTTPHeaders = [:],
            _ body: ByteBuffer? = nil
        )
            async throws -> [String: Any]
        {
            var all = authorization
            all.add(contentsOf: headers)
            let answer = try await transport.send(
                HTTPRequestSpec(method: method, url: base + path, headers: all, body: body)
            )
            guard (200...299).contains(answer.status) else {
                throw BenchError("\(method) \(path): \(answer.status) \(String(buffer: answer.body))")
            }
            return (try JSONSerialization.jsonObject(with: Data(answer.body.readableBytesView)) as? [String: Any])
                ?? [:]
        }
        let boundary = "pacer-bench"
        var body = "--\(boundary)\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n"
        body += "--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"bench.jsonl\"\r\n\r\n"
        for index in 0..<lines {
            body +=
                #"{"custom_id":"r\#(index)","method":"POST","url":"/v1/chat/completions","body":{"model":"gpt-4o-mini","max_tokens":16,"messages":[{"role":"user","content":"bench prompt \#(index)"}]}}"#
                + "\n"
        }
        body += "\r\n--\(boundary)--\r\n"
        let file = try await call(
            .POST,
            "/files",
            ["Content-Type": "multipart/form-data; boundary=\(boundary)"],
            ByteBuffer(string: body)
        )
        let create = try JSONSerialization.data(withJSONObject: [
            "input_file_id": file["id"] as? String ?? "", "endpoint": "/v1/chat/completions",
            "completion_window": "24h",
        ])
        let batch = try await call(.POST, "/batches", ["Content-Type": "application/json"], ByteBuffer(bytes: create))
        let id = batch["id"] as? String ?? ""
        let start = ContinuousClock.now
        var samples: [(seconds: Double, completed: Int)] = []
        var status = ""
        var outputFile: String?
        while !["completed", "failed", "expired", "cancelled"].contains(status) {
            try await Task.sleep(for: .milliseconds(500))
            let now = try await call(.GET, "/batches/\(id)")
            status = now["status"] as? String ?? ""
            outputFile = now["output_file_id"] as? String
            let completed = (now["request_counts"] as? [String: Int])?["completed"] ?? 0
            if completed < lines { samples.append(((ContinuousClock.now - start).pacerSeconds, completed)) }
        }
        let wall = (ContinuousClock.now - start).pacerSeconds
        guard status == "completed", let outputFile else { throw BenchError("the batch ended \(status)") }
        let output = try await transport.send(
            HTTPRequestSpec(url: base + "/files/\(outputFile)/content", headers: authorization)
        )
        let written = String(buffer: output.body).split(separator: "\n").count
        guard written == lines else { throw BenchError("the output holds \(written) lines of \(lines)") }
        let firstMoving = samples.first { $0.completed > 0 }?.seconds ?? 0
        let steady = samples.filter { $0.seconds >= firstMoving + 5 }
        guard let first = steady.first, let last = steady.last, last.seconds > first.seconds else {
            return (0, wall)
        }
        return (Double(last.completed - first.completed) / (last.seconds - first.seconds) * 60, wall)
    }
}
