import Compute

/// How a dynamic table gives rows to raw ids (`model.table_rows: dynamic`): by key, not by
/// position, so unrelated ids never share a row (HugeCTR's hash tables, TorchRec's managed
/// collisions).
///
/// The table's `capacity` rows form buckets of `bucketRows` rows; a key's bucket is a hash of
/// the key, and the key's row is looked for only in its bucket (a set-associative cache, as
/// HierarchicalKV's buckets). Row 0 of every bucket is the bucket's default row: ids not (yet)
/// admitted and ids an evaluation has never seen share it. Buckets, not rows, are what ranks
/// own, so a key's place is the same whatever the number of ranks.
public struct DynamicTableRule: Sendable, Equatable {
    public enum Eviction: String, Sendable, Codable, CaseIterable {
        /// The row used longest ago (of those not used in the current step).
        case lru
        /// The row used fewest times (ties: the one used longest ago).
        case lfu
    }

    /// Rows of the whole table, a multiple of `bucketRows`.
    public var capacity: Int
    /// Rows per bucket (its default row included).
    public var bucketRows: Int
    /// An id gets a row once seen in this many steps (counted in a count-min sketch); 1: at once.
    public var minCount: Int
    public var eviction: Eviction

    public init(capacity: Int, bucketRows: Int = 64, minCount: Int = 1, eviction: Eviction = .lru) {
        precondition(bucketRows >= 2 && capacity >= bucketRows && capacity % bucketRows == 0,
                     "DynamicTableRule: capacity \(capacity) is not a positive multiple of \(bucketRows) rows")
        self.capacity = capacity
        self.bucketRows = bucketRows
        self.minCount = minCount
        self.eviction = eviction
    }

    public var bucketCount: Int { capacity / bucketRows }

    /// Counters of the admission sketch per row of the table (two hash rows of 4 counters per
    /// table row, in the key's bucket).
    public static let sketchCountersPerRow = 8

    /// Bytes the map keeps per row beyond the row and its optimizer state: its key (8), last
    /// use (4) and use count (4); the admission sketch adds `sketchCountersPerRow` bytes.
    public static let bytesPerRow = 16

    /// The bucket (of `bucketCount`) that holds `key`.
    @inline(__always)
    public static func bucket(ofKey key: UInt64, bucketCount: Int) -> Int {
        Int(SeededGenerator.mix(key).multipliedFullWidth(by: UInt64(bucketCount)).high)
    }
}
