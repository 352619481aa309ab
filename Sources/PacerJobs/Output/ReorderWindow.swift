import PacerCore
import Synchronization

/// `--ordered`: results written in input order, as `vllm run-batch` writes them, with memory
/// bounded by a window.
///
/// Items are numbered as they are admitted. A finished item's lines are held until every
/// item admitted before it has finished, then written. Admission waits while the item about
/// to be admitted is `size` or more ahead of the oldest unfinished one, so at most `size`
/// items' lines are ever held: a slow item (a long answer, a retry) stalls admission after
/// `size` items instead of letting the held results grow without bound.
package final class ReorderWindow: Sendable {
    package typealias Lines = [(line: any OutputRecord, success: Bool)]

    private struct State {
        /// The number the next admitted item gets.
        var nextAdmitted = 0
        /// The number of the oldest item not yet written.
        var nextWritten = 0
        /// Admitted items' numbers, by their input index.
        var numbers: [Int: Int] = [:]
        /// Finished items' lines, by number, waiting for the items before them.
        var held: [Int: Lines] = [:]
        /// Admission waiting for the window to move.
        var waiter: CheckedContinuation<Void, Never>?
    }

    /// The most items admitted ahead of the oldest unfinished one.
    package let size: Int
    private let state = Mutex(State())

    /// A window of `size` items.
    package init(size: Int) {
        self.size = max(1, size)
    }

    /// Waits until an item may be admitted, then numbers it.
    package func admit(index: Int) async {
        while true {
            var admitted = false
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.nextAdmitted - state.nextWritten < size {
                        state.numbers[index] = state.nextAdmitted
                        state.nextAdmitted += 1
                        admitted = true
                        return true
                    }
                    // Resumed by `finished` when the window moves.
                    state.waiter = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
            if admitted { return }
        }
    }

    /// An item finished with `lines` (none when it is not written); returns the lines now
    /// due, in input order.
    package func finished(index: Int, lines: Lines) -> Lines {
        let (due, waiter) = state.withLock { state -> (Lines, CheckedContinuation<Void, Never>?) in
            guard let number = state.numbers.removeValue(forKey: index) else { return (lines, nil) }
            state.held[number] = lines
            var due: Lines = []
            while let next = state.held.removeValue(forKey: state.nextWritten) {
                due += next
                state.nextWritten += 1
            }
            // Admission re-checks the window itself.
            return (due, state.waiter.take())
        }
        waiter?.resume()
        return due
    }

    /// How many items were admitted (for tests).
    package var admittedCount: Int { state.withLock { $0.nextAdmitted } }

    /// Whether admission is waiting for the window to move (for tests).
    package var isWaiting: Bool { state.withLock { $0.waiter != nil } }

    /// Whatever is still held (items after one that never finished), in order.
    package func drain() -> Lines {
        state.withLock { state in
            let due = state.held.sorted { $0.key < $1.key }.flatMap(\.value)
            state.held = [:]
            return due
        }
    }
}

/// The runner's units, each admitted through a ``ReorderWindow`` (or as they come, without one).
package struct OrderedUnits<Base: AsyncSequence & Sendable, Unit: Sendable>: AsyncSequence, Sendable
where Base.Element == BatchItem<Unit> {
    package let base: Base
    package let window: ReorderWindow?

    /// `base`'s units, admitted through `window` when there is one.
    package init(base: Base, window: ReorderWindow?) {
        self.base = base
        self.window = window
    }

    package func makeAsyncIterator() -> Iterator {
        Iterator(base: base.makeAsyncIterator(), window: window)
    }

    package struct Iterator: AsyncIteratorProtocol {
        package var base: Base.AsyncIterator
        package let window: ReorderWindow?

        package mutating func next() async throws -> BatchItem<Unit>? {
            guard let unit = try await base.next() else { return nil }
            await window?.admit(index: unit.index)
            return unit
        }
    }
}
