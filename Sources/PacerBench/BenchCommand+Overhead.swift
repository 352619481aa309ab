import Foundation
import PacerCLI
import PacerCore
import PacerHTTP
import PacerJobs

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
            try await engineRun(
                section: "engine in-process",
                concurrency: concurrency,
                items: (1...count).map {
                    BatchItem(
                        index: $0 - 1,
                        id: String($0),
                        input: FetchRequest(url: "\(simulator.rootURL)/posts/\($0 % 1000 + 1)")
                    )
                },
                operation: { URLFetcher(transport: $0) }
            )
        }
    }

    /// `items` through ``BatchRunner`` with the operation `operation` makes over a transport
    /// of its own, in this process (items made before the clock starts); CPU from `getrusage`.
    func engineRun<Operation: BatchOperation>(
        section: String,
        concurrency: Int,
        items: [BatchItem<Operation.Input>],
        operation: (HTTPTransport) -> Operation
    ) async throws -> CostResult {
        try await HTTPTransport.withTransport(configuration: .init(maxConnectionsPerHost: concurrency)) { transport in
            let runner = BatchRunner(
                configuration: BatchConfiguration(maxConcurrent: concurrency, attemptTimeout: .seconds(30))
            )
            let operation = operation(transport)
            let count = items.count
            let cpuBefore = processCPUSeconds()
            let summary = try await runner.run(AsyncArray(items), operation: operation) { _, _ in }
            let cpu = processCPUSeconds() - cpuBefore
            return CostResult(
                section: section,
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

    /// The floor: the same requests sent with ``HTTPTransport`` alone (AsyncHTTPClient, body
    /// collected, not decoded) by `concurrency` plain tasks, without the engine.
    func transportOverheadRun(count: Int, concurrency: Int) async throws -> CostResult {
        try await SimulatorProcess.withRunning { simulator in
            let root = simulator.rootURL
            return try await transportRun(section: "HTTP client alone", count: count, concurrency: concurrency) {
                HTTPRequestSpec(url: "\(root)/posts/\($0 % 1000 + 1)")
            }
        }
    }

    /// `count` requests sent with ``HTTPTransport`` alone by `concurrency` plain tasks, the
    /// answers collected and not decoded; CPU from `getrusage` of this process. `request`
    /// makes item n's request (made before the clock starts).
    func transportRun(
        section: String,
        count: Int,
        concurrency: Int,
        request: (Int) -> HTTPRequestSpec
    ) async throws -> CostResult {
        let requests = (0..<count).map(request)
        return try await HTTPTransport.withTransport(configuration: .init(maxConnectionsPerHost: concurrency)) {
            transport in
            let start = ContinuousClock.now
            let cpuBefore = processCPUSeconds()
            let failed = try await withThrowingTaskGroup(of: Int.self) { group in
                for worker in 0..<concurrency {
                    group.addTask {
                        var failed = 0
                        for n in stride(from: worker, to: count, by: concurrency) {
                            let response = try await transport.send(requests[n])
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
                section: section,
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

    /// How a `pacer fetch` run of the benchmark gets its items.
    enum CLIInput {
        /// A file, read whole before the first request.
        case file
        /// Stdin (the same file, piped): ids checked for duplicates as they come.
        case stdin
        /// A file, with an output already holding all but the last `left` items: a resume.
        case resume(left: Int)
    }

    /// `pacer fetch FILE -o OUT` as a process of its own over `count` URLs streamed from a
    /// file (or stdin, or resuming an output); CPU from `wait4`, peak RSS from `VmHWM`.
    func cliRun(
        section: String,
        count: Int,
        concurrency: Int,
        input source: CLIInput = .file
    ) async throws -> CostResult {
        try await SimulatorProcess.withRunning { simulator in
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
                "pacer-bench-\(getpid())-\(count)"
            )
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: folder) }
            let input = folder.appendingPathComponent("in.jsonl")
            let output = folder.appendingPathComponent("out.jsonl")
            try writeFetchInput(to: input, count: count, rootURL: simulator.rootURL)
            var sent = count
            if case .resume(let left) = source {
                try writeFetchOutput(to: output, count: count - left, rootURL: simulator.rootURL)
                sent = left
            }
            let stdin = open(input.path, O_RDONLY | O_CLOEXEC)
            defer { close(stdin) }
            var isStdin = false
            if case .stdin = source { isStdin = true }
            let start = ContinuousClock.now
            let client = try ChildProcess.spawn(
                ChildProcess.pacerExecutable,
                [
                    "fetch", isStdin ? "-" : input.path, "-o", output.path, "--concurrency", String(concurrency),
                    "--quiet",
                ],
                stdin: isStdin ? stdin : nil
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
                itemsPerSecond: Double(sent) / wall,
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

    /// Writes the output `pacer fetch` would have written for items 1…count (one line each,
    /// with the post as `data`), a megabyte at a time: the journal a resume reads.
    private func writeFetchOutput(to url: URL, count: Int, rootURL: String) throws {
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        guard count > 0 else { return }
        let body = String(repeating: "lorem ipsum dolor sit amet ", count: 6)
        var chunk = ""
        for id in 1...count {
            let post = id % 1000 + 1
            chunk +=
                #"{"attempts":1,"data":{"body":"\#(body)","id":\#(post),"title":"post \#(post)","userId":\#(post % 10 + 1)},"#
                + #""id":"\#(id)","index":\#(id - 1),"latency_ms":1.2,"status":200,"success":true,"url":"\#(rootURL)/posts/\#(post)"}"#
                + "\n"
            if chunk.utf8.count > 1 << 20 || id == count {
                try handle.write(contentsOf: Data(chunk.utf8))
                chunk = ""
            }
        }
    }

    /// The number of failure lines in an output file, read as the journal reads it (so that
    /// the benchmark itself stays small); throws if it does not hold `expected` lines.
    private func countFailures(in url: URL, expected: Int) async throws -> Int {
        var lines = 0
        var failures = 0
        try await Journal.scan(path: url.path) { _, line in
            guard case .entry(_, let succeeded) = line else { return }
            lines += 1
            if !succeeded { failures += 1 }
        }
        guard lines == expected else { throw BenchError("the output holds \(lines) lines for \(expected) items") }
        return failures
    }

    func runOverhead() async throws {
        let fetch = try await interleaved([
            { try await transportOverheadRun(count: 50_000, concurrency: 100) },
            { try await engineOverheadRun(count: 50_000, concurrency: 100) },
            { try await cliRun(section: "pacer fetch", count: 50_000, concurrency: 100) },
        ])
        try printCost(
            fetch.rows,
            title: "Overhead: 50,000 fetches at 0 latency, concurrency 100, simulator in its own process."
        )
        let endpoints = try await endpointOverheadResults(count: 20_000, concurrency: 100)
        try printCost(
            endpoints.flatMap(\.rows),
            title:
                "Overhead per endpoint: 20,000 requests at 0 latency, concurrency 100, simulator in its own process\n"
                + "(chat: `pacer chat` over text prompts; the others: `pacer batch` over Batch API lines)."
        )
        if !json {
            print("Command / HTTP client alone, the median of each round's ratio (rounds run the three rows in turn):")
            for group in [fetch] + endpoints {
                let name = group.rows.last?.section ?? "?"
                print("- \(name): \(SummaryText.format(group.ratio, digits: 2)) (rounds: \(group.rounds))")
            }
            print("")
        }
    }

    /// Three rows measured in turn, `--repeat` rounds of all three rather than each row's runs
    /// back to back, so that a machine that slows down midway weighs on every row alike; each
    /// row is its median, and the command's cost over the floor's is the median of the rounds'
    /// ratios (the first row is the floor, the last the command).
    func interleaved(
        _ runs: [() async throws -> CostResult]
    ) async throws -> (rows: [CostResult], ratio: Double, rounds: String) {
        var samples = Array(repeating: [CostResult](), count: runs.count)
        var ratios: [Double] = []
        for _ in 0..<repetitions {
            for (index, run) in runs.enumerated() { samples[index].append(try await run()) }
            if let floor = samples.first?.last?.cpuMicrosecondsPerItem, floor > 0,
                let command = samples.last?.last?.cpuMicrosecondsPerItem
            {
                ratios.append(command / floor)
            }
        }
        let rows = samples.map { runs in
            runs.sorted { $0.cpuMicrosecondsPerItem < $1.cpuMicrosecondsPerItem }[runs.count / 2]
        }
        let ratio = ratios.isEmpty ? 0 : ratios.sorted()[ratios.count / 2]
        return (rows, ratio, ratios.map { SummaryText.format($0, digits: 2) }.joined(separator: ", "))
    }

    func runMemory() async throws {
        let runs: [(section: String, counts: [Int], input: CLIInput)] = [
            ("pacer fetch", [10_000, 100_000, 1_000_000], .file),
            ("pacer fetch, stdin", [10_000, 1_000_000], .stdin),
            ("resume, 1,000 left", [10_000, 1_000_000], .resume(left: 1000)),
        ]
        var results: [CostResult] = []
        var ratios: [String] = []
        for run in runs {
            var rows: [CostResult] = []
            for count in run.counts {
                rows.append(
                    try await median(by: { Double($0.peakRSSBytes ?? 0) }) {
                        try await cliRun(section: run.section, count: count, concurrency: 100, input: run.input)
                    }
                )
            }
            results += rows
            if let first = rows.first?.peakRSSBytes, let last = rows.last?.peakRSSBytes, first > 0 {
                ratios.append(
                    "\(run.section): peak RSS at 10^6 items is \(SummaryText.format(Double(last) / Double(first), digits: 2))× that at 10^4."
                )
            }
        }
        try printCost(
            results,
            title:
                "Memory: pacer fetch of N URLs streamed from a file (or piped to stdin, or resuming an output that holds all but\n"
                + "1,000 of them), concurrency 100, simulator in its own process. items/s counts the items sent."
        )
        if !json { print(ratios.joined(separator: "\n") + "\n") }
    }

    private func printCost(_ results: [CostResult], title: String) throws {
        try printResults(
            results,
            title: title,
            header: ["run", "items", "wall s", "items/s", "CPU µs/item", "peak RSS", "failed"]
        ) { result in
            [
                result.section, String(result.items), SummaryText.format(result.wallSeconds, digits: 2),
                SummaryText.format(result.itemsPerSecond, digits: 0),
                SummaryText.format(result.cpuMicrosecondsPerItem, digits: 1),
                result.peakRSSBytes.map { SummaryText.format(Double($0) / 1_048_576, digits: 1) + " MiB" } ?? "n/a",
                String(result.failed),
            ]
        }
    }
}
