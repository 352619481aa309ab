import Foundation
import PacerCore

/// What a worker did, for its summary and `--summary-json`.
package struct WorkerReport: Encodable, Sendable {
    /// The engine's summary of the items this worker ran.
    package var batch: BatchSummary
    package var resultsStored: Int
    package var resultsAlreadyStored: Int
    package var resultsNotStored: Int
    package var chunksClaimed: Int
    package var chunksGivenBack: Int?
    /// Chunks the reaper took back while this worker was silent.
    package var chunksLost: Int
    /// Results of those chunks' items not stored (the database refuses them).
    package var resultsRefused: Int
    /// Items of those chunks dropped without being sent.
    package var itemsDropped: Int
    package var databaseRoundTrips: Int
    /// Why the run stopped before the batch was done (a signal, a cancel, the batch dropped).
    package var stop: RunStopStateMachine.Cause?
    /// Why the worker could not claim work, if it could not (the database refused, or the
    /// batch was replaced).
    package var claimError: (any Error)?

    /// Round trips per item this worker finished.
    package var roundTripsPerItem: Double {
        Double(databaseRoundTrips) / Double(max(1, resultsStored + resultsAlreadyStored + resultsNotStored))
    }

    package enum CodingKeys: String, CodingKey {
        case batch
        case resultsStored = "results_stored"
        case resultsAlreadyStored = "results_already_stored"
        case resultsNotStored = "results_not_stored"
        case chunksClaimed = "chunks_claimed"
        case chunksGivenBack = "chunks_given_back"
        case chunksLost = "chunks_lost"
        case resultsRefused = "results_refused"
        case itemsDropped = "items_dropped"
        case databaseRoundTrips = "database_round_trips"
        case roundTripsPerItem = "database_round_trips_per_item"
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(batch, forKey: .batch)
        try container.encode(resultsStored, forKey: .resultsStored)
        try container.encode(resultsAlreadyStored, forKey: .resultsAlreadyStored)
        try container.encode(resultsNotStored, forKey: .resultsNotStored)
        try container.encode(chunksClaimed, forKey: .chunksClaimed)
        try container.encode(chunksGivenBack, forKey: .chunksGivenBack)
        try container.encode(chunksLost, forKey: .chunksLost)
        try container.encode(resultsRefused, forKey: .resultsRefused)
        try container.encode(itemsDropped, forKey: .itemsDropped)
        try container.encode(databaseRoundTrips, forKey: .databaseRoundTrips)
        try container.encode(roundTripsPerItem, forKey: .roundTripsPerItem)
    }

    package func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do {
            try encoder.encode(self).write(to: URL(fileURLWithPath: path))
        } catch {
            throw InputError(file: path, message: "cannot write the summary: \(error.localizedDescription)")
        }
    }
}
