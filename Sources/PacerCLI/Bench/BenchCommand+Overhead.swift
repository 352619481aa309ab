import Foundation
import PacerCore
import PacerHTTP

/// The cost sections of `pacer bench`: the client's CPU per item and its peak memory, with the
/// simulator in a process of its own so that only the client is measured.
extension BenchCommand {
    struct CostResult: Codable {
        var section: String
        var items: Int
        var concurrency: Int
        var wallSeconds: Double
        var itemsPerSecond: Double
        var cpuMicrosecondsPerItem: Double
        /// Peak RSS of the client process, in bytes; nil for the in-process engine run.
        var peakRSSBytes: Int?
        var failed: Int
    }

    /// The engine alone (``BatchRunner`` + ``URLFetcher``, no files) in this process:
    /// `count` fetches at 0 latency; CPU from `getrusage` of this process.
    func engineOverheadRun(count: Int, concurrency: Int) async throws -> CostResult {
        try await SimulatorProcess.withRunning { simulator in
            try await HTTPTransport.withTransport(configuration: .init(maxConnectionsPerHost: concurrency)) { transport in
                let runner = BatchRunner(configuration: BatchConfiguration(maxConcurrent: concurrency, attemptTimeout: .seconds(30)))
                let items = AsyncArray((1...count).map {
                    BatchItem(index: $0 - 1, id: String($0), input: FetchRequest(url: "\(simulator.rootURL)/posts/\($0 % 1000 + 1)"))
                })
                let cpuBefore = processCPUSeconds()
                let summary = try await runner.run(items, operation: URLFetcher(transport: transport)) { _, _ in }
                let cpu = processCPUSeconds() - cpuBefore
                return CostResult(
                    section: "engine in-process",
                    items: count,
                    concurrency: concurrency,
                    wallSeconds: summary.wallSeconds,
                    itemsPerSecond: Double(count) / summary.wallSeconds,
                    cpuMicrosecondsPerItem: cpu / Double(count) * 1e6,
                    peakRSSBytes: nil,
                    failed: summary.failed
                )
            }
        }
    }

    /// The floor: the same requests sent with ``HTTPTransport`` alone (AsyncHTTPClient, body
    /// collected, not decoded) by `concurrency` plain tasks, without the engine.
    func transportOverheadRun(count: Int, concurrency: Int) async throws -> CostResult {
        try await SimulatorProcess.withRunning { simulator in
            try await HTTPTransport.withTransport(configuration: .init(maxConnectionsPerHost: concurrency)) { transport in
                let start = ContinuousClock.now
                let cpuBefore = processCPUSeconds()
                let failed = try await withThrowingTaskGroup(of: Int.self) { group in
                    for worker in 0..<concurrency {
                        group.addTask {
                            var failed = 0
                            for id in stride(from: worker + 1, through: count, by: concurrency) {
                                let response = try await transport.send(HTTPRequestSpec(url: "\(simulator.rootURL)/posts/\(id % 1000 + 1)"))
                                if response.status != 200 { failed += 1 }
                            }
                            return failed
                        }
                    }
                    return try await group.reduce(0, +)
                }
                let cpu = processCPUSeconds() - cpuBefore
                let wall = start.duration(to: .now).pacerSeconds
                return CostResult(
                    section: "HTTP client alone",
                    items: count,
                    concurrency: concurrency,
                    wallSeconds: wall,
                    itemsPerSecond: Double(count) / wall,
                    cpuMicrosecondsPerItem: cpu / Double(count) * 1e6,
                    peakRSSBytes: nil,
                    failed: failed
                )
            }
        }
    }

    /// `pacer fetch FILE -o OUT` as a process of its own over `count` URLs streamed from a
    /// file; CPU and peak RSS from `wait4`.
    func cliRun(section: String, count: Int, concurrency: Int) async throws -> CostResult {
        try await SimulatorProcess.withRunning { simulator in
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pacer-bench-\(getpid())-\(count)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: folder) }
            let input = folder.appendingPathComponent("in.jsonl")
            let output = folder.appendingPathComponent("out.jsonl")
            try writeFetchInput(to: input, count: count, rootURL: simulator.rootURL)
            let start = ContinuousClock.now
            let client = try ChildProcess.spawn(
                ChildProcess.pacerExecutable,
                ["fetch", input.path, "-o", output.path, "--concurrency", String(concurrency), "--quiet"]
            )
            let ending = await client.wait()
            let wall = start.duration(to: .now).pacerSeconds
            guard ending.status == 0 else {
                throw BenchError("pacer fetch of \(count) items exited with status \(ending.status)")
            }
            return CostResult(
                section: section,
                items: count,
                concurrency: concurrency,
                wallSeconds: wall,
                itemsPerSecond: Double(count) / wall,
                cpuMicrosecondsPerItem: ending.cpuSeconds / Double(count) * 1e6,
                peakRSSBytes: ending.peakRSSBytes,
                failed: try await countFailures(in: output, expected: count)
            )
        }
    }

    /// Writes `count` fetch lines (ids 1…count, posts 1…1000 in turn), a megabyte at a time.
    private func writeFetchInput(to url: URL, count: Int, rootURL: String) throws {
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        var chunk = ""
        for id in 1...count {
            chunk += "{\"id\": \"\(id)\", \"url\": \"\(rootURL)/posts/\(id % 1000 + 1)\"}\n"
            if chunk.utf8.count > 1 << 20 || id == count {
                try handle.write(contentsOf: Data(chunk.utf8))
                chunk = ""
            }
        }
    }

    /// The number of failure lines in an output file, read line by line (so that the
    /// benchmark itself stays small); throws if it does not hold `expected` lines.
    private func countFailures(in url: URL, expected: Int) async throws -> Int {
        var lines = 0
        var failures = 0
        for try await line in Lines(reader: try FileReader(path: url.path)) {
            lines += 1
            if line.text.contains("\"success\":false") { failures += 1 }
        }
        guard lines == expected else { throw BenchError("the output holds \(lines) lines for \(expected) items") }
        return failures
    }

    func runOverhead() async throws {
        let results = [
            try await median(by: \.cpuMicrosecondsPerItem) { try await transportOverheadRun(count: 50_000, concurrency: 100) },
            try await median(by: \.cpuMicrosecondsPerItem) { try await engineOverheadRun(count: 50_000, concurrency: 100) },
            try await median(by: \.cpuMicrosecondsPerItem) { try await cliRun(section: "pacer fetch", count: 50_000, concurrency: 100) },
        ]
        try printCost(results, title: "Overhead: 50,000 fetches at 0 latency, concurrency 100, simulator in its own process.")
    }

    func runMemory() async throws {
        var results: [CostResult] = []
        for count in [10_000, 100_000, 1_000_000] {
            results.append(try await median(by: { Double($0.peakRSSBytes ?? 0) }) {
                try await cliRun(section: "pacer fetch", count: count, concurrency: 100)
            })
        }
        try printCost(results, title: "Memory: pacer fetch of N URLs streamed from a file, concurrency 100, simulator in its own process.")
        if let first = results.first?.peakRSSBytes, let last = results.last?.peakRSSBytes, first > 0, !json {
            print("peak RSS at 10^6 items is \(SummaryText.format(Double(last) / Double(first), digits: 2))× that at 10^4.\n")
        }
    }

    private func printCost(_ results: [CostResult], title: String) throws {
        try printResults(results, title: title, header: ["run", "items", "wall s", "items/s", "CPU µs/item", "peak RSS", "failed"]) { result in
            [
                result.section, String(result.items), SummaryText.format(result.wallSeconds, digits: 2),
                SummaryText.format(result.itemsPerSecond, digits: 0), SummaryText.format(result.cpuMicrosecondsPerItem, digits: 1),
                result.peakRSSBytes.map { SummaryText.format(Double($0) / 1_048_576, digits: 1) + " MiB" } ?? "n/a",
                String(result.failed),
            ]
        }
    }
}
