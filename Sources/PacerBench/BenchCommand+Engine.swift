import PacerCLI
import PacerCore
import PacerJobs

/// The engine's own cost per item, without HTTP: ``BatchRunner`` over items whose attempt
/// only suspends once (as a request does while it waits for its answer), against the same
/// suspensions by plain tasks.
extension BenchCommand {
    /// An attempt that suspends once and succeeds; it bounds its own time, as the HTTP
    /// clients do (their requests carry the deadline).
    struct SuspendOnce: BatchOperation {
        struct Output: MeteredOutput {}
        func attempt(_ item: BatchItem<Int>, attempt: Int) async throws -> Output {
            await Task.yield()
            return Output()
        }
        func attempt(_ item: BatchItem<Int>, attempt: Int, timeout: Duration) async throws -> Output {
            await Task.yield()
            return Output()
        }
        var enforcesTimeout: Bool { true }
    }

    func runEngine() async throws {
        let count = 200_000
        let concurrency = 100
        let measured = try await interleaved([
            {
                let cpuBefore = processCPUSeconds()
                let start = ContinuousClock.now
                await withTaskGroup(of: Void.self) { group in
                    for worker in 0..<concurrency {
                        group.addTask {
                            for _ in stride(from: worker, to: count, by: concurrency) { await Task.yield() }
                        }
                    }
                }
                let wall = start.duration(to: .now).pacerSeconds
                return CostResult(
                    section: "plain tasks, one suspension per item",
                    items: count,
                    concurrency: concurrency,
                    wallSeconds: wall,
                    itemsPerSecond: Double(count) / wall,
                    cpuMicrosecondsPerItem: (processCPUSeconds() - cpuBefore) / Double(count) * 1e6,
                    peakRSSBytes: nil,
                    failed: 0
                )
            },
            {
                let runner = BatchRunner(
                    configuration: BatchConfiguration(maxConcurrent: concurrency, attemptTimeout: .seconds(30))
                )
                let items = (0..<count).map { BatchItem(index: $0, id: String($0), input: $0) }
                let cpuBefore = processCPUSeconds()
                let summary = try await runner.run(AsyncArray(items), operation: SuspendOnce()) { _, _ in }
                return CostResult(
                    section: "BatchRunner, one suspension per item",
                    items: count,
                    concurrency: concurrency,
                    wallSeconds: summary.wallSeconds,
                    itemsPerSecond: Double(count) / summary.wallSeconds,
                    cpuMicrosecondsPerItem: (processCPUSeconds() - cpuBefore) / Double(count) * 1e6,
                    peakRSSBytes: nil,
                    failed: summary.failed
                )
            },
        ])
        try printResults(
            measured.rows,
            title: "The engine without HTTP: \(count) items, concurrency \(concurrency)",
            header: ["run", "items", "wall s", "items/s", "CPU µs/item"],
            cells: {
                [
                    $0.section, String($0.items), SummaryText.format($0.wallSeconds, digits: 2),
                    SummaryText.format($0.itemsPerSecond, digits: 0),
                    SummaryText.format($0.cpuMicrosecondsPerItem, digits: 2),
                ]
            }
        )
    }
}
