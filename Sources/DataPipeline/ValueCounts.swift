/// How often each categorical value of one table was seen, counted up to a cap (the frequency
/// threshold: a value seen that often is frequent, and no count needs to go higher, so counts of
/// Terabyte-sized inputs never overflow). Open addressing with linear probing over a power-of-two
/// table of 64-bit values and 32-bit counts, a count of 0 marking an empty slot: 12 bytes a slot,
/// at most half full, and one multiply-xorshift per look-up where `Dictionary` hashes with SipHash.
public final class ValueCounts {
    public let cap: UInt32
    private var values: [UInt64]
    private var counts: [UInt32]
    /// Distinct values counted.
    public private(set) var count = 0

    public init(cap: Int) {
        precondition(cap >= 1 && cap <= Int(UInt32.max), "a count cap is 1...\(UInt32.max)")
        self.cap = UInt32(cap)
        values = [UInt64](repeating: 0, count: 1024)
        counts = [UInt32](repeating: 0, count: 1024)
    }

    @inline(__always)
    private func start(_ value: UInt64, _ mask: Int) -> Int {
        var z = value &* 0x9E37_79B9_7F4A_7C15
        z ^= z >> 29
        return Int(truncatingIfNeeded: z) & mask
    }

    /// Adds `times` occurrences of `value` (the count stops at the cap).
    @inline(__always)
    public func add(_ value: UInt64, times: UInt32 = 1) {
        let mask = counts.count - 1
        var slot = start(value, mask)
        while counts[slot] != 0 {
            if values[slot] == value {
                counts[slot] = min(cap, counts[slot] &+ min(times, cap))
                return
            }
            slot = (slot + 1) & mask
        }
        values[slot] = value
        counts[slot] = min(times, cap)
        count += 1
        if 2 * count > counts.count { grow() }
    }

    /// Occurrences of `value` counted, at most the cap (0: never seen).
    @inline(__always)
    public func occurrences(of value: UInt64) -> UInt32 {
        let mask = counts.count - 1
        var slot = start(value, mask)
        while counts[slot] != 0 {
            if values[slot] == value { return counts[slot] }
            slot = (slot + 1) & mask
        }
        return 0
    }

    /// True when `value` was seen at least `cap` times.
    @inline(__always)
    public func isFrequent(_ value: UInt64) -> Bool { occurrences(of: value) >= cap }

    /// Every counted value with its count, in no particular order.
    public func forEach(_ body: (UInt64, UInt32) throws -> Void) rethrows {
        for slot in counts.indices where counts[slot] != 0 { try body(values[slot], counts[slot]) }
    }

    /// Values seen at least `cap` times.
    public var frequentCount: Int { counts.reduce(0) { $0 + ($1 >= cap ? 1 : 0) } }

    /// Forgets every value, keeping the table's storage.
    public func removeAll() {
        counts.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        count = 0
    }

    private func grow() {
        let (oldValues, oldCounts) = (values, counts)
        values = [UInt64](repeating: 0, count: 2 * oldCounts.count)
        counts = [UInt32](repeating: 0, count: 2 * oldCounts.count)
        let mask = counts.count - 1
        for old in oldCounts.indices where oldCounts[old] != 0 {
            var slot = start(oldValues[old], mask)
            while counts[slot] != 0 { slot = (slot + 1) & mask }
            values[slot] = oldValues[old]
            counts[slot] = oldCounts[old]
        }
    }
}
