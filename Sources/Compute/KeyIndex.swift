/// A map from 64-bit keys to `Int32` values for the keys of one step, reused from step to step:
/// open addressing with linear probing over a power-of-two table, emptied in O(1) by a new
/// generation (each slot remembers the generation that filled it). Swift's `Dictionary` hashes
/// with SipHash; this hashes with one multiply-xorshift, which the de-duplication of a batch's
/// ids (tens of thousands per step) needs.
public struct KeyIndex {
    private var keys: [UInt64] = []
    private var values: [Int32] = []
    private var generations: [UInt32] = []
    private var generation: UInt32 = 1
    private var mask = 0
    public private(set) var count = 0

    public init() {}

    /// Empties the map and makes room for `expected` keys (at most half the table full).
    public mutating func reset(expected: Int) {
        var size = max(keys.count, 16)
        while size < 2 * expected { size *= 2 }
        if size != keys.count {
            keys = Array(repeating: 0, count: size)
            values = Array(repeating: 0, count: size)
            generations = Array(repeating: 0, count: size)
            generation = 1
        } else if generation == .max {
            for i in generations.indices { generations[i] = 0 }
            generation = 1
        } else {
            generation += 1
        }
        mask = size - 1
        count = 0
    }

    @inline(__always)
    private func start(_ key: UInt64) -> Int {
        var z = key &* 0x9E37_79B9_7F4A_7C15
        z ^= z >> 29
        return Int(truncatingIfNeeded: z) & mask
    }

    /// The value of `key`, or nil.
    @inline(__always)
    public func value(of key: UInt64) -> Int32? {
        var slot = start(key)
        while generations[slot] == generation {
            if keys[slot] == key { return values[slot] }
            slot = (slot + 1) & mask
        }
        return nil
    }

    /// The value of `key` when it has one; otherwise `make()`'s, stored. Keys beyond the
    /// `expected` of `reset` grow the table.
    @inline(__always)
    public mutating func value(of key: UInt64, orInsert make: () -> Int32) -> Int32 {
        var slot = start(key)
        while generations[slot] == generation {
            if keys[slot] == key { return values[slot] }
            slot = (slot + 1) & mask
        }
        let value = make()
        if 2 * (count + 1) > keys.count {
            grow()
            return self.value(of: key) ?? insert(key, value)
        }
        keys[slot] = key
        values[slot] = value
        generations[slot] = generation
        count += 1
        return value
    }

    private mutating func insert(_ key: UInt64, _ value: Int32) -> Int32 {
        var slot = start(key)
        while generations[slot] == generation { slot = (slot + 1) & mask }
        keys[slot] = key
        values[slot] = value
        generations[slot] = generation
        count += 1
        return value
    }

    private mutating func grow() {
        let held = (0..<keys.count).filter { generations[$0] == generation }.map { (keys[$0], values[$0]) }
        keys = Array(repeating: 0, count: 2 * keys.count)
        values = Array(repeating: 0, count: keys.count)
        generations = Array(repeating: 0, count: keys.count)
        generation = 1
        mask = keys.count - 1
        count = 0
        for (key, value) in held { _ = insert(key, value) }
    }
}
