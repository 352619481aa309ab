import PacerCore

/// How a run (``FileRun``) turns the items it reads into the runner's units of work, and each
/// finished unit into output lines: one to one for `chat`, `fetch` and `batch`
/// (``OneToOneFeed``); many texts to one request for `embed` (``EmbeddingFeed``).
package protocol JobFeed: Sendable {
    /// What an input line parses to.
    associatedtype Input: Sendable
    /// What the runner sends: an input, or several in one request.
    associatedtype Unit: Sendable
    /// What a unit's attempt returns.
    associatedtype Output: MeteredOutput
    /// The runner's items.
    associatedtype Units: AsyncSequence & Sendable where Units.Element == BatchItem<Unit>

    /// The units made from the input's items, read lazily.
    func units(from source: ItemSource<Input>) -> Units

    /// The lines to write for a finished unit, each with whether it is a success (failures go
    /// to the errors file, when there is one); none for a unit that was not done (stopped, or
    /// split to be sent again in parts).
    func lines(for unit: BatchItem<Unit>, result: ItemResult<Output>) -> [(line: any OutputRecord, success: Bool)]

    /// Whether a unit is one input item (so the runner's counts are the items').
    var unitsAreItems: Bool { get }

    /// The input items a unit carries: 1, or the texts of a pack.
    func itemCount(of unit: BatchItem<Unit>) -> Int

    /// Corrects the runner's summary, which counts units, to count the input's items.
    func adjust(_ summary: inout BatchSummary)
}

/// One unit per input item, and one line per unit.
package struct OneToOneFeed<Input: Sendable, Output: MeteredOutput>: JobFeed {
    package let makeLine: @Sendable (BatchItem<Input>, ItemResult<Output>) -> any OutputRecord

    /// A feed that writes `makeLine`'s line for each item.
    package init(makeLine: @escaping @Sendable (BatchItem<Input>, ItemResult<Output>) -> any OutputRecord) {
        self.makeLine = makeLine
    }

    package func units(from source: ItemSource<Input>) -> ItemSource<Input> { source }

    package func lines(
        for unit: BatchItem<Input>,
        result: ItemResult<Output>
    ) -> [(line: any OutputRecord, success: Bool)] {
        // An item stopped before it was done is not written: a rerun does it.
        if result.error?.kind == .cancelled { return [] }
        return [(makeLine(unit, result), result.isSuccess)]
    }

    package var unitsAreItems: Bool { true }

    package func itemCount(of unit: BatchItem<Input>) -> Int { 1 }

    package func adjust(_ summary: inout BatchSummary) {}
}
