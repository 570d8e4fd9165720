import Compute

/// The key-to-row map of one shard of a dynamic table (whole buckets `firstRow / bucketRows`
/// onwards): which key holds each row, when it was last used, how often, and the admission
/// sketch's counters of the shard's buckets.
///
/// A bucket is a set of rows 1..<S (row 0 is its default row): a key is found by comparing it
/// with every key of its bucket, eight at a time (`SIMD8`); a new key takes the bucket's first
/// empty row, or a full bucket's victim. A step resolves each key once (`beginStep` starts a
/// step): a key met again in the same step, from any rank, gets the same row without being
/// counted again, and a row used in the current step is never evicted, so keys resolved in one
/// step never share a row. The order keys are resolved in is the order of their first
/// appearance in the global batch whatever the number of ranks, so the map evolves identically
/// on 1 or N ranks.
public final class DynamicRowMap: @unchecked Sendable {
    /// The key of a row that holds none (and the padding of a record's key bag).
    public static let emptyKey = UInt64.max

    public let rule: DynamicTableRule
    /// The row of the whole table that local row 0 is (a bucket boundary).
    public let firstRow: Int
    public let rowCount: Int
    /// Per local row: its key, the step it was last used in, and its uses (owned by the map).
    public let keys: UnsafeMutableBufferPointer<UInt64>
    public let lastUsed: UnsafeMutableBufferPointer<UInt32>
    public let useCount: UnsafeMutableBufferPointer<UInt32>
    /// `DynamicTableRule.sketchCountersPerRow` saturating counters per row, bucket by bucket.
    public let sketch: UnsafeMutableBufferPointer<UInt8>
    /// The current training step (the stamp of rows used in it).
    public var step: UInt32 = 0
    /// Local rows given a new key in the current training step (their weights and optimizer
    /// state start afresh).
    public private(set) var freshRows: [Int32] = []
    /// Whether the current step may admit and evict (training), or only finds (evaluation).
    public private(set) var learning = false
    private let resolved = KeyIndex()

    public init(rule: DynamicTableRule, firstRow: Int, rowCount: Int) {
        precondition(firstRow % rule.bucketRows == 0 && rowCount % rule.bucketRows == 0,
                     "DynamicRowMap: shards hold whole buckets")
        self.rule = rule
        self.firstRow = firstRow
        self.rowCount = rowCount
        keys = .allocate(capacity: rowCount)
        keys.initialize(repeating: Self.emptyKey)
        lastUsed = .allocate(capacity: rowCount)
        lastUsed.initialize(repeating: 0)
        useCount = .allocate(capacity: rowCount)
        useCount.initialize(repeating: 0)
        sketch = .allocate(capacity: rowCount * DynamicTableRule.sketchCountersPerRow)
        sketch.initialize(repeating: 0)
    }

    deinit {
        keys.deallocate()
        lastUsed.deallocate()
        useCount.deallocate()
        sketch.deallocate()
    }

    /// Starts a step: a training step advances the clock and may admit and evict.
    public func beginStep(learning: Bool) {
        self.learning = learning
        resolved.reset(expected: 1024)
        if learning {
            step &+= 1
            freshRows.removeAll(keepingCapacity: true)
        }
    }

    /// Rows holding a key.
    public var occupiedRows: Int { keys.reduce(0) { $1 == Self.emptyKey ? $0 : $0 + 1 } }

    /// The local row of `key`, whose bucket this shard holds: its own row, a newly admitted one,
    /// or its bucket's default row.
    public func row(forKey key: UInt64) -> Int32 {
        resolved.value(of: key) { resolve(key) }
    }

    private func resolve(_ key: UInt64) -> Int32 {
        let width = rule.bucketRows
        let bucket = DynamicTableRule.bucket(ofKey: key, bucketCount: rule.bucketCount)
        let base = bucket * width - firstRow
        precondition(base >= 0 && base < rowCount, "DynamicRowMap: key \(key) belongs to another shard")
        let (found, empty) = find(key, base: base)
        if found > 0 {
            if learning {
                lastUsed[base + found] = step
                if useCount[base + found] < .max { useCount[base + found] += 1 }
            }
            return Int32(base + found)
        }
        guard learning else { return Int32(base) }
        let seen = rule.minCount > 1 ? count(key, bucketBase: base) : 1
        guard seen >= rule.minCount else { return Int32(base) }
        let slot = empty > 0 ? empty : victim(base: base)
        guard slot > 0 else { return Int32(base) }
        let row = base + slot
        keys[row] = key
        lastUsed[row] = step
        useCount[row] = UInt32(seen)
        freshRows.append(Int32(row))
        return Int32(row)
    }

    /// In the bucket at `base`: the row holding `key` (0: none) and its first empty row (0: full).
    @inline(__always)
    private func find(_ key: UInt64, base: Int) -> (found: Int, empty: Int) {
        let width = rule.bucketRows, row = keys.baseAddress! + base
        let wanted = SIMD8<UInt64>(repeating: key), none = SIMD8<UInt64>(repeating: Self.emptyKey)
        var empty = 0, slot = 0
        while slot + 8 <= width {
            let block = UnsafeRawPointer(row + slot).loadUnaligned(as: SIMD8<UInt64>.self)
            let hit = block .== wanted
            if any(hit) { for lane in 0..<8 where hit[lane] { return (slot + lane, 0) } }
            if empty == 0 {
                let free = block .== none
                if any(free) { for lane in 0..<8 where free[lane] && slot + lane > 0 { empty = slot + lane; break } }
            }
            slot += 8
        }
        for tail in slot..<width {
            if row[tail] == key { return (tail, 0) }
            if empty == 0 && tail > 0 && row[tail] == Self.emptyKey { empty = tail }
        }
        return (0, empty)
    }

    /// Counts one sighting of `key` in its bucket's sketch; the estimate after it (the smaller
    /// of its two counters, which saturate at 255).
    private func count(_ key: UInt64, bucketBase: Int) -> Int {
        let hash = SeededGenerator.mix(key ^ 0x5851_F42D_4C95_7F2D)
        let counters = DynamicTableRule.sketchCountersPerRow / 2 * rule.bucketRows
        let start = bucketBase * DynamicTableRule.sketchCountersPerRow
        let first = start + Int(UInt32(truncatingIfNeeded: hash >> 8) % UInt32(counters))
        let second = start + counters + Int(UInt32(truncatingIfNeeded: hash >> 36) % UInt32(counters))
        if sketch[first] < .max { sketch[first] += 1 }
        if sketch[second] < .max { sketch[second] += 1 }
        return Int(min(sketch[first], sketch[second]))
    }

    /// The row of a full bucket to give up (0: every row was used in this step).
    private func victim(base: Int) -> Int {
        var best = 0
        for slot in 1..<rule.bucketRows where lastUsed[base + slot] < step {
            guard best > 0 else { best = slot; continue }
            let (candidate, current) = (base + slot, base + best)
            switch rule.eviction {
            case .lru:
                if lastUsed[candidate] < lastUsed[current] { best = slot }
            case .lfu:
                if (useCount[candidate], lastUsed[candidate]) < (useCount[current], lastUsed[current]) { best = slot }
            }
        }
        return best
    }
}
