import Clocks
import PacerCore
import Synchronization

/// Counts items in flight and remembers the most seen at once.
final class InFlightProbe: Sendable {
    private let state = Mutex((current: 0, max: 0))
    func enter() { state.withLock { $0.current += 1; $0.max = Swift.max($0.max, $0.current) } }
    func leave() { state.withLock { $0.current -= 1 } }
    var max: Int { state.withLock { $0.max } }
}

/// Records when each attempt started, on the test clock.
final class AttemptLog: Sendable {
    private let state = Mutex<[Int: [Duration]]>([:])
    func record(_ index: Int, at offset: Duration) { state.withLock { $0[index, default: []].append(offset) } }
    func times(_ index: Int) -> [Duration] { state.withLock { $0[index] ?? [] } }
}

struct Output: MeteredOutput, Equatable {
    var value: Int
    var tokenUsage: TokenUsage? { TokenUsage(prompt: value, completion: 1) }
    var costUSD: Double? { value.isMultiple(of: 2) ? 0.5 : nil }
}

/// An operation driven by a script: per index, a list of what each attempt does.
struct ScriptedOperation: BatchOperation {
    enum Step: Sendable {
        case succeed(after: Duration)
        case fail(ItemError, after: Duration)
    }

    let clock: TestClock<Duration>
    let start: TestClock<Duration>.Instant
    let probe = InFlightProbe()
    let log = AttemptLog()
    let cancellations = Counter()
    let script: @Sendable (_ index: Int, _ attempt: Int) -> Step

    init(clock: TestClock<Duration>, script: @escaping @Sendable (_ index: Int, _ attempt: Int) -> Step) {
        self.clock = clock
        self.start = clock.now
        self.script = script
    }

    func attempt(_ item: BatchItem<Int>, attempt: Int) async throws -> Output {
        probe.enter()
        defer { probe.leave() }
        log.record(item.index, at: start.duration(to: clock.now))
        switch script(item.index, attempt) {
        case .succeed(let delay):
            try await sleep(delay)
            return Output(value: item.input)
        case .fail(let error, let delay):
            try await sleep(delay)
            throw error
        }
    }

    private func sleep(_ delay: Duration) async throws {
        guard delay > .zero else { return }
        do {
            try await clock.sleep(for: delay)
        } catch {
            cancellations.increment()
            throw error
        }
    }
}

let retryable = ItemError(kind: .httpStatus, status: 503, message: "overloaded", isRetryable: true)
let permanent = ItemError(kind: .httpStatus, status: 400, message: "bad request", isRetryable: false)

/// Runs `body` while advancing the test clock in steps until it finishes.
func drive<T: Sendable>(
    _ clock: TestClock<Duration>,
    step: Duration = .milliseconds(100),
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    let done = Mutex(false)
    let task = Task {
        defer { done.withLock { $0 = true } }
        return try await body()
    }
    var steps = 0
    while !done.withLock({ $0 }) {
        await clock.advance(by: step)
        steps += 1
        if steps > 100_000 {
            task.cancel()
            break
        }
    }
    return try await task.value
}

final class Counter: Sendable {
    private let state = Mutex(0)
    func increment() { state.withLock { $0 += 1 } }
    var value: Int { state.withLock { $0 } }
}
