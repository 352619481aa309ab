/// A set of ids kept as 60-bit fingerprints packed in 6 bytes an id (plus at most an eighth
/// of slack), however long the ids are, and no `String` per id.
///
/// Used where Pacer must remember every id of a batch: the ids already done in the output
/// file (resume) and the ids read from stdin (duplicate check).
///
/// What is exact: an id that was inserted is always found (equal ids have equal
/// fingerprints), so a resume never redoes an item that is done and a duplicate on stdin is
/// never missed. The other way round rests on the fingerprint: two different ids have the same
/// one with probability 2^-60, so among `n` ids looked up in a set of `m` the chance of any
/// false match is at most `n·m/2^60` (below 10^-6 for a million against a million). The
/// fingerprint is keyed per process (Swift's `Hasher`, SipHash-1-3 with a random seed), so
/// such a match cannot repeat on the next run.
///
/// Fingerprints are kept in 4,096 sorted buckets chosen by their top 12 bits; a bucket holds
/// the low 48 bits of each of its fingerprints as three `UInt16`s (the 4 bits between are not
/// kept). An insert moves about `count / 4096` neighbours, a lookup is a binary search in one
/// bucket. Six bytes rather than eight is what keeps 10^6 ids on stdin within a quarter of a
/// small run's memory (BENCHMARKS.md, issue 9).
package struct IDFingerprints: Sendable {
    private static let bucketBits = 12
    /// `UInt16`s an entry: 48 bits.
    private static let width = 3
    private var buckets: [[UInt16]] = Array(repeating: [], count: 1 << bucketBits)
    /// The number of distinct fingerprints held.
    package private(set) var count = 0

    /// An empty set (32 KiB of bucket headers; the buckets themselves start empty).
    package init() {}

    /// The bytes the set holds for its fingerprints: bucket headers and capacities (not
    /// counting the allocator's own overhead).
    package var storageBytes: Int {
        buckets.count * MemoryLayout<[UInt16]>.stride
            + buckets.reduce(0) { $0 + ($1.capacity > 0 ? 32 + $1.capacity * 2 : 0) }
    }

    /// The fingerprint of `id` (its UTF-8 bytes) in this process.
    package static func fingerprint(_ id: String) -> UInt64 {
        var id = id
        return id.withUTF8 { fingerprint(UnsafeRawBufferPointer($0)) }
    }

    /// The fingerprint of the UTF-8 bytes of an id.
    package static func fingerprint(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hasher = Hasher()
        hasher.combine(bytes: bytes)
        return UInt64(UInt(bitPattern: hasher.finalize()))
    }

    /// Whether an id with this fingerprint was inserted.
    package func contains(fingerprint: UInt64) -> Bool {
        let key = Self.key(fingerprint)
        let bucket = buckets[Self.bucket(fingerprint)]
        let index = Self.insertionIndex(of: key, in: bucket)
        return index < bucket.count / Self.width && Self.entry(index, in: bucket) == key
    }

    /// Whether `id` was inserted (see the type's note on what is exact).
    package func contains(_ id: String) -> Bool { contains(fingerprint: Self.fingerprint(id)) }

    /// Adds a fingerprint; returns `false` when it was there already.
    @discardableResult
    package mutating func insert(fingerprint: UInt64) -> Bool {
        let key = Self.key(fingerprint)
        let which = Self.bucket(fingerprint)
        let index = Self.insertionIndex(of: key, in: buckets[which])
        let entries = buckets[which].count / Self.width
        if index < entries, Self.entry(index, in: buckets[which]) == key { return false }
        // Grow by an eighth, not Array's doubling: the slack is memory held for the whole run.
        let size = buckets[which].count
        if size + Self.width > buckets[which].capacity {
            buckets[which].reserveCapacity(size + (entries / 8 + 4) * Self.width)
        }
        let start = index * Self.width
        buckets[which].insert(contentsOf: repeatElement(0, count: Self.width), at: start)
        buckets[which][start] = UInt16(truncatingIfNeeded: key >> 32)
        buckets[which][start + 1] = UInt16(truncatingIfNeeded: key >> 16)
        buckets[which][start + 2] = UInt16(truncatingIfNeeded: key)
        count += 1
        return true
    }

    /// Adds `id`; returns `false` when it (or an id with its fingerprint) was there already.
    @discardableResult
    package mutating func insert(_ id: String) -> Bool { insert(fingerprint: Self.fingerprint(id)) }

    private static func bucket(_ fingerprint: UInt64) -> Int { Int(fingerprint >> UInt64(64 - bucketBits)) }

    /// The low 48 bits a bucket keeps of a fingerprint.
    private static func key(_ fingerprint: UInt64) -> UInt64 { fingerprint & 0xFFFF_FFFF_FFFF }

    /// The 48-bit key of entry `index` of a bucket.
    private static func entry(_ index: Int, in bucket: [UInt16]) -> UInt64 {
        let start = index * width
        return UInt64(bucket[start]) << 32 | UInt64(bucket[start + 1]) << 16 | UInt64(bucket[start + 2])
    }

    /// The first entry index in the sorted `bucket` whose key is not below `key`.
    private static func insertionIndex(of key: UInt64, in bucket: [UInt16]) -> Int {
        var low = 0
        var high = bucket.count / width
        while low < high {
            let middle = (low + high) / 2
            if entry(middle, in: bucket) < key { low = middle + 1 } else { high = middle }
        }
        return low
    }
}
