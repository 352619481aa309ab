/// A set of ids kept as 64-bit fingerprints: 8 bytes an id (plus at most an eighth of slack),
/// however long the ids are, and no `String` per id.
///
/// Used where Pacer must remember every id of a batch: the ids already done in the output
/// file (resume) and the ids read from stdin (duplicate check).
///
/// What is exact: an id that was inserted is always found (equal ids have equal
/// fingerprints), so a resume never redoes an item that is done and a duplicate on stdin is
/// never missed. The other way round rests on the fingerprint: two different ids have the same
/// one with probability 2^-64, so among `n` ids looked up in a set of `m` the chance of any
/// false match is at most `n·m/2^64` (below 10^-7 for a million against a million). The
/// fingerprint is keyed per process (Swift's `Hasher`, SipHash-1-3 with a random seed), so
/// such a match cannot repeat on the next run.
///
/// Fingerprints are kept in 4,096 sorted buckets by their top 12 bits: an insert moves about
/// `count / 4096` neighbours, a lookup is a binary search in one bucket.
struct IDFingerprints: Sendable {
    private static let bucketBits = 12
    private var buckets: [[UInt64]] = Array(repeating: [], count: 1 << bucketBits)
    /// The number of distinct fingerprints held.
    private(set) var count = 0

    /// An empty set (32 KiB of bucket headers; the buckets themselves start empty).
    init() {}

    /// The bytes the set holds for its fingerprints: bucket headers and capacities (not
    /// counting the allocator's own overhead).
    var storageBytes: Int {
        buckets.count * MemoryLayout<[UInt64]>.stride
            + buckets.reduce(0) { $0 + ($1.capacity > 0 ? 32 + $1.capacity * 8 : 0) }
    }

    /// The fingerprint of `id` (its UTF-8 bytes) in this process.
    static func fingerprint(_ id: String) -> UInt64 {
        var id = id
        return id.withUTF8 { fingerprint(UnsafeRawBufferPointer($0)) }
    }

    /// The fingerprint of the UTF-8 bytes of an id.
    static func fingerprint(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hasher = Hasher()
        hasher.combine(bytes: bytes)
        return UInt64(UInt(bitPattern: hasher.finalize()))
    }

    /// Whether an id with this fingerprint was inserted.
    func contains(fingerprint: UInt64) -> Bool {
        let bucket = buckets[Self.bucket(fingerprint)]
        let index = Self.insertionIndex(of: fingerprint, in: bucket)
        return index < bucket.count && bucket[index] == fingerprint
    }

    /// Whether `id` was inserted (see the type's note on what is exact).
    func contains(_ id: String) -> Bool { contains(fingerprint: Self.fingerprint(id)) }

    /// Adds a fingerprint; returns `false` when it was there already.
    @discardableResult
    mutating func insert(fingerprint: UInt64) -> Bool {
        let which = Self.bucket(fingerprint)
        let index = Self.insertionIndex(of: fingerprint, in: buckets[which])
        if index < buckets[which].count, buckets[which][index] == fingerprint { return false }
        // Grow by an eighth, not Array's doubling: the slack is memory held for the whole run.
        let size = buckets[which].count
        if size == buckets[which].capacity { buckets[which].reserveCapacity(size + size / 8 + 4) }
        buckets[which].insert(fingerprint, at: index)
        count += 1
        return true
    }

    /// Adds `id`; returns `false` when it (or an id with its fingerprint) was there already.
    @discardableResult
    mutating func insert(_ id: String) -> Bool { insert(fingerprint: Self.fingerprint(id)) }

    private static func bucket(_ fingerprint: UInt64) -> Int { Int(fingerprint >> UInt64(64 - bucketBits)) }

    /// The first index in the sorted `bucket` whose value is not below `fingerprint`.
    private static func insertionIndex(of fingerprint: UInt64, in bucket: [UInt64]) -> Int {
        var low = 0
        var high = bucket.count
        while low < high {
            let middle = (low + high) / 2
            if bucket[middle] < fingerprint { low = middle + 1 } else { high = middle }
        }
        return low
    }
}
