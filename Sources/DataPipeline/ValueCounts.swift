/// How often each categorical value of one table was seen, counted up to a cap (the frequency
/// threshold: a value seen that often is frequent, and no count needs to go higher, so counts of
/// Terabyte-sized inputs never overflow). Open addressing with linear probing over a power-of-two
/// table of 64-bit values and 32-bit counts, a count of 0 marking an empty slot: 16 bytes a slot,
/// at most half full, and one multiply-xorshift per look-up where `Dictionary` hashes with SipHash.
public final class ValueCounts {
    /// A value and its count side by side, so that a look-up touches one cache line.
    private struct Slot {
        var value: UInt64
        var count: UInt32
    }

    public let cap: UInt32
    private var slots: UnsafeMutablePointer<Slot>
    private var mask: Int
    /// Distinct values counted.
    public private(set) var count = 0

    public init(cap: Int) {
        precondition(cap >= 1 && cap <= Int(UInt32.max), "a count cap is 1...\(UInt32.max)")
        self.cap = UInt32(cap)
        mask = 1023
        slots = .allocate(capacity: mask + 1)
        slots.initialize(repeating: Slot(value: 0, count: 0), count: mask + 1)
    }

    deinit { slots.deallocate() }

    @inline(__always)
    private static func start(_ value: UInt64, _ mask: Int) -> Int {
        var z = value &* 0x9E37_79B9_7F4A_7C15
        z ^= z >> 29
        return Int(truncatingIfNeeded: z) & mask
    }

    /// Adds `times` occurrences of `value` (the count stops at the cap).
    @inline(__always)
    public func add(_ value: UInt64, times: UInt32 = 1) {
        let (slots, mask) = (self.slots, self.mask)
        var slot = Self.start(value, mask)
        while slots[slot].count != 0 {
            if slots[slot].value == value {
                slots[slot].count = min(cap, slots[slot].count &+ min(times, cap))
                return
            }
            slot = (slot + 1) & mask
        }
        slots[slot] = Slot(value: value, count: min(times, cap))
        count += 1
        if 2 * count > mask + 1 { grow() }
    }

    /// Occurrences of `value` counted, at most the cap (0: never seen).
    @inline(__always)
    public func occurrences(of value: UInt64) -> UInt32 {
        let (slots, mask) = (self.slots, self.mask)
        var slot = Self.start(value, mask)
        while slots[slot].count != 0 {
            if slots[slot].value == value { return slots[slot].count }
            slot = (slot + 1) & mask
        }
        return 0
    }

    /// True when `value` was seen at least `cap` times.
    @inline(__always)
    public func isFrequent(_ value: UInt64) -> Bool { occurrences(of: value) >= cap }

    /// Every counted value with its count, in no particular order.
    public func forEach(_ body: (UInt64, UInt32) throws -> Void) rethrows {
        for slot in 0...mask where slots[slot].count != 0 { try body(slots[slot].value, slots[slot].count) }
    }

    /// Values seen at least `cap` times.
    public var frequentCount: Int { (0...mask).reduce(0) { $0 + (slots[$1].count >= cap ? 1 : 0) } }

    /// The values seen at least `cap` times alone: a far smaller table to look values up in
    /// once counting is over (most distinct values are rare).
    public func frequentValues() -> ValueCounts {
        let frequent = ValueCounts(cap: Int(cap))
        forEach { value, count in if count >= cap { frequent.add(value, times: cap) } }
        return frequent
    }

    /// Forgets every value, keeping the table's storage.
    public func removeAll() {
        slots.update(repeating: Slot(value: 0, count: 0), count: mask + 1)
        count = 0
    }

    private func grow() {
        let (old, oldMask) = (slots, mask)
        mask = 2 * (oldMask + 1) - 1
        slots = .allocate(capacity: mask + 1)
        slots.initialize(repeating: Slot(value: 0, count: 0), count: mask + 1)
        for index in 0...oldMask where old[index].count != 0 {
            var slot = Self.start(old[index].value, mask)
            while slots[slot].count != 0 { slot = (slot + 1) & mask }
            slots[slot] = old[index]
        }
        old.deallocate()
    }
}
