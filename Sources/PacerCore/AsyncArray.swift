/// An array as an `AsyncSequence`, for feeding a ``BatchRunner`` from memory.
public struct AsyncArray<Element: Sendable>: AsyncSequence, Sendable {
    private let elements: [Element]

    /// Wraps an array.
    public init(_ elements: [Element]) { self.elements = elements }

    /// The iterator over the array.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: IndexingIterator<[Element]>
        /// The next element, or `nil` at the end.
        public mutating func next() async -> Element? { base.next() }
    }

    /// Makes an iterator.
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: elements.makeIterator()) }
}
