/// Where a response cache keeps its entries, by key: a folder on this machine (PacerOpenAI's
/// `FolderResponseStorage`, `--cache DIR`) or a table every machine of a fleet shares
/// (PacerPostgres' `PostgresResponseStorage`, `--cache postgres://…`). What an entry holds,
/// and whether it reads back, is the cache's concern; a storage keeps bytes under a key,
/// within its bound, the oldest out first.
///
/// Neither call throws: a storage that cannot be read or written now is a miss, or an answer
/// not kept, and the request is simply sent.
public protocol ResponseStorage: Sendable {
    /// The bytes kept under `key`; `nil` when there are none or they cannot be read now.
    func value(for key: String) async -> [UInt8]?

    /// Keeps `value` under `key` (replacing what was there), and removes the oldest entries
    /// while the whole is over the storage's bound.
    ///
    /// - Returns: How many entries (or a folder's generations) went to stay under the
    ///   bound; `nil` when the value was not kept.
    func store(_ value: [UInt8], for key: String) async -> Int?

    /// The bytes the storage holds now, as far as this process knows.
    var bytes: Int64 { get async }
}
