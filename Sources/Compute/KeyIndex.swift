/// A map from 64-bit keys to `Int32` values for the keys of one step, reused from step to step:
/// open addressing with linear probing over a power-of-two table, emptied in O(1) by a new
/// generation (each slot remembers the generation that filled it). Swift's `Dictionary` hashes
/// with SipHash; this hashes with one multiply-xorshift, which the de-duplication of a batch's
/// ids (tens of thousands per step) needs. Its size follows the keys of a step, not a table.
public final class KeyIndex {
    private var keys = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)
    private var values = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
    private var generations = UnsafeMutablePointer<UInt32>.allocate(capacity: 1)
    private var size = 0
    private var generation: UInt32 = 1
    public private(set) var count = 0

    public init() {}

    deinit { deallocate() }

    private func deallocate() {
        keys.deallocate()
        values.deallocate()
        generations.deallocate()
    }

    /// Storage for `size` slots, every one empty.
    private func allocate(_ size: Int) {
        deallocate()
        keys = .allocate(capacity: size)
        values = .allocate(capacity: size)
        generations = .allocate(capacity: size)
        generations.initialize(repeating: 0, count: size)
        self.size = size
        generation = 1
    }

    /// Empties the map and makes room for `expected` keys (at most half the table full).
    public func reset(expected: Int) {
        var wanted = max(size, 16)
        while wanted < 2 * expected { wanted *= 2 }
        if wanted != size {
            allocate(wanted)
        } else if generation == .max {
            generations.update(repeating: 0, count: size)
            generation = 1
        } else {
            generation += 1
        }
        count = 0
    }

    @inline(__always)
    private func start(_ key: UInt64) -> Int {
        var z = key &* 0x9E37_79B9_7F4A_7C15
        z ^= z >> 29
        return Int(truncatingIfNeeded: z) & (size - 1)
    }

    /// The value of `key` when it has one; otherwise `make()`'s, stored. Keys beyond the
    /// `expected` of `reset` grow the table.
    @inline(__always)
    public func value(of key: UInt64, orInsert make: () -> Int32) -> Int32 {
        var slot = start(key)
        while generations[slot] == generation {
            if keys[slot] == key { return values[slot] }
            slot = (slot + 1) & (size - 1)
        }
        let value = make()
        if 2 * (count + 1) > size {
            grow()
            insert(key, value)
        } else {
            keys[slot] = key
            values[slot] = value
            generations[slot] = generation
            count += 1
        }
        return value
    }

    private func insert(_ key: UInt64, _ value: Int32) {
        var slot = start(key)
        while generations[slot] == generation { slot = (slot + 1) & (size - 1) }
        keys[slot] = key
        values[slot] = value
        generations[slot] = generation
        count += 1
    }

    private func grow() {
        let held = (0..<size).filter { generations[$0] == generation }.map { (keys[$0], values[$0]) }
        allocate(2 * size)
        count = 0
        for (key, value) in held { insert(key, value) }
    }
}
