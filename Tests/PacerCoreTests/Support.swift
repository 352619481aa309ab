import Clocks
import PacerCore
import Synchronization

/// Counts items in flight and remembers the most seen at once.
final class InFlightProbe: Sendable {
    private let state = Mutex((current: 0, max: 0))
    func enter() {
        state.withLock {
            $0.current += 1
            $0.max = Swift.max($0.max, $0.current)
        }
    }
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

    let clock: TrackedClock
    let start: TrackedClock.Instant
    let probe = InFlightProbe()
    let log = AttemptLog()
    let cancellations = Counter()
    let script: @Sendable (_ index: Int, _ attempt: Int) -> Step

    init(clock: TrackedClock, script: @escaping @Sendable (_ index: Int, _ attempt: Int) -> Step) {
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

/// A `TestClock` that knows who sleeps on it, so that a test advances time only once the
/// tasks under test have reached their sleeps (and so never drifts under load).
struct TrackedClock: Clock {
    typealias Duration = Swift.Duration
    typealias Instant = TestClock<Duration>.Instant

    let base = TestClock<Duration>()
    let sleepers = Sleepers()

    var now: Instant { base.now }
    var minimumResolution: Duration { base.minimumResolution }

    func sleep(until deadline: Instant, tolerance: Duration?) async throws {
        let id = sleepers.add(deadline)
        defer { sleepers.remove(id) }
        try await base.sleep(until: deadline, tolerance: tolerance)
    }

    /// Advances by `duration` (for tests that step by hand).
    func advance(by duration: Duration) async { await base.advance(by: duration) }

    /// Returns once at least `count` sleeps are waiting on the clock, and none has come or
    /// gone for a moment.
    func waitForSleepers(_ count: Int = 1) async {
        await sleepers.settle(atLeast: count)
    }
}

/// The sleeps in progress on a ``TrackedClock``.
final class Sleepers: Sendable {
    private let state = Mutex((next: 0, changes: 0, deadlines: [Int: TestClock<Duration>.Instant]()))

    func add(_ deadline: TestClock<Duration>.Instant) -> Int {
        state.withLock {
            $0.next += 1
            $0.changes += 1
            $0.deadlines[$0.next] = deadline
            return $0.next
        }
    }

    func remove(_ id: Int) {
        state.withLock {
            $0.changes += 1
            $0.deadlines[id] = nil
        }
    }

    var count: Int { state.withLock { $0.deadlines.count } }
    var earliest: TestClock<Duration>.Instant? { state.withLock { $0.deadlines.values.min() } }
    private var changes: Int { state.withLock { $0.changes } }

    /// Waits until at least `count` sleeps are registered and the set has stayed the same over
    /// several rounds of yields (a real pause between rounds lets other threads run; the clock
    /// under test does not move meanwhile).
    func settle(atLeast count: Int = 0, done: () -> Bool = { false }) async {
        var stableRounds = 0
        var seen = changes
        // A cancelled test (its time limit) must not spin here: its sleeps return at once.
        while stableRounds < 5, !Task.isCancelled {
            for _ in 0..<20 { await Task.yield() }
            try? await Task.sleep(for: .milliseconds(1))
            if done() { return }
            let now = changes
            if now == seen, self.count >= count { stableRounds += 1 } else { stableRounds = 0 }
            seen = now
        }
    }
}

/// Runs `body`, moving the clock to the next sleeper's deadline each time the tasks under test
/// are all parked, until `body` finishes. Virtual time advances in exact jumps, never while a
/// task is still on its way to a sleep.
func drive<T: Sendable>(
    _ clock: TrackedClock,
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    let done = Mutex(false)
    let task = Task {
        defer { done.withLock { $0 = true } }
        return try await body()
    }
    var jumps = 0
    while !done.withLock({ $0 }) {
        await clock.sleepers.settle(done: { done.withLock { $0 } })
        if let next = clock.sleepers.earliest, !done.withLock({ $0 }) {
            await clock.base.advance(to: max(next, clock.now))
        }
        jumps += 1
        if jumps > 100_000 {
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
