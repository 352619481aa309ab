/// A Bloom filter of strings: "maybe seen" or "certainly not seen", in a fixed number of bits.
///
/// The duplicate-id check of a file input uses it so that memory does not grow with the number
/// of items: ids the filter has maybe seen are checked exactly in a second pass.
package struct BloomFilter {
    private var words: [UInt64]
    private let bits: UInt64
    private let hashes = 5

    /// A filter of about `bits` bits (at least 2^16).
    package init(bits: Int) {
        let count = max(1 << 10, (bits + 63) / 64)
        self.words = [UInt64](repeating: 0, count: count)
        self.bits = UInt64(count * 64)
    }

    /// Adds `text`; returns whether it was maybe there already.
    package mutating func insert(_ text: String) -> Bool {
        let (first, second) = Self.hashes(text)
        var present = true
        for index in 0..<UInt64(hashes) {
            let bit = (first &+ index &* second) % bits
            let word = Int(bit / 64)
            let mask = UInt64(1) << (bit % 64)
            if words[word] & mask == 0 {
                present = false
                words[word] |= mask
            }
        }
        return present
    }

    /// Two independent 64-bit hashes (FNV-1a with two bases, then mixed): stable across runs.
    private static func hashes(_ text: String) -> (UInt64, UInt64) {
        var first: UInt64 = 0xcbf2_9ce4_8422_2325
        var second: UInt64 = 0x8422_2325_cbf2_9ce4
        for byte in text.utf8 {
            first = (first ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
            second = (second ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 ^ (second >> 29)
        }
        return (mix(first), mix(second) | 1)
    }

    private static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
