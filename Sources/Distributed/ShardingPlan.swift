import NeuralNetwork

/// Where every row of every embedding table lives, computed once from the table sizes and the
/// world size, identically on every rank.
///
/// - table-wise: a whole table on one rank (placed to balance bytes, largest tables first);
/// - row-wise: rank r holds rows [r*R/N, (r+1)*R/N) of a table of R rows;
/// - replicated: every rank holds the whole table (small tables; their gradients are shared
///   with every rank, so the copies stay equal).
public struct ShardingPlan: Sendable, Equatable {
    public enum Strategy: String, Sendable, Codable, CaseIterable {
        /// Replicate small tables, split very large ones by rows, place the rest whole.
        case auto
        /// Every table whole on one rank.
        case tableWise = "table_wise"
        /// Every table split by rows over all ranks.
        case rowWise = "row_wise"
        /// Every table on every rank.
        case replicated
    }

    public enum Placement: Sendable, Equatable {
        case tableWise(owner: Int)
        case rowWise
        case replicated
    }

    public struct Table: Sendable, Equatable {
        public let rowCount: Int
        public let dimension: Int
        public let placement: Placement
        /// Rows per bucket of a dynamic table (ranks hold whole buckets); 1 for a fixed table.
        public var bucketRows = 1

        public var isDynamic: Bool { bucketRows > 1 }
    }

    public let worldSize: Int
    public let tables: [Table]

    /// - Parameters:
    ///   - replicateMaxRows: with `.auto`, tables of at most this many rows are replicated.
    ///   - rowWiseMinRows: with `.auto`, tables of at least this many rows are split by rows.
    ///   - bucketRows: per table, the rows per bucket of a dynamic table (0 or 1: fixed); a
    ///     dynamic table is split by whole buckets whatever the strategy (its rows are found by
    ///     key at their owner).
    public init(tableRowCounts: [Int], dimension: Int, worldSize: Int, strategy: Strategy,
                replicateMaxRows: Int = 0, rowWiseMinRows: Int = .max, bucketRows: [Int] = []) {
        precondition(worldSize >= 1, "ShardingPlan: world size must be positive")
        self.worldSize = worldSize
        let granularity = tableRowCounts.indices.map { $0 < bucketRows.count ? max(bucketRows[$0], 1) : 1 }
        var placements = [Placement?](repeating: nil, count: tableRowCounts.count)
        for (t, rows) in tableRowCounts.enumerated() {
            if granularity[t] > 1 { placements[t] = .rowWise; continue }
            switch strategy {
            case .tableWise: break
            case .rowWise: placements[t] = .rowWise
            case .replicated: placements[t] = .replicated
            case .auto:
                if rows <= replicateMaxRows { placements[t] = .replicated }
                else if rows >= rowWiseMinRows && worldSize > 1 { placements[t] = .rowWise }
            }
        }
        // Whole tables, largest first, each onto the rank holding the fewest rows so far
        // (ties to the lower rank), counting the row-wise shards already placed.
        var load = [Int](repeating: 0, count: worldSize)
        for (t, rows) in tableRowCounts.enumerated() where placements[t] == .rowWise {
            for r in 0..<worldSize {
                load[r] += Self.rowRange(rows: rows, rank: r, worldSize: worldSize, granularity: granularity[t]).count
            }
        }
        let unplaced = tableRowCounts.indices.filter { placements[$0] == nil }
            .sorted { (tableRowCounts[$0], -$0) > (tableRowCounts[$1], -$1) }
        for t in unplaced {
            let owner = load.indices.min { (load[$0], $0) < (load[$1], $1) }!
            placements[t] = .tableWise(owner: owner)
            load[owner] += tableRowCounts[t]
        }
        tables = tableRowCounts.enumerated().map { t, rows in
            Table(rowCount: rows, dimension: dimension, placement: placements[t]!, bucketRows: granularity[t])
        }
    }

    /// The rows of table `t` that `rank` holds (empty when it holds none).
    public func rows(ofTable t: Int, rank: Int) -> Range<Int> {
        let table = tables[t]
        switch table.placement {
        case .replicated: return 0..<table.rowCount
        case .tableWise(let owner): return owner == rank ? 0..<table.rowCount : 0..<0
        case .rowWise: return Self.rowRange(rows: table.rowCount, rank: rank, worldSize: worldSize, granularity: table.bucketRows)
        }
    }

    /// Whether `rank` asks other ranks (or itself, through the exchange) for the rows of table
    /// `t`: a table-wise table placed elsewhere, and every row-wise table.
    public func isRequested(table t: Int, rank: Int) -> Bool {
        switch tables[t].placement {
        case .replicated: return false
        case .tableWise(let owner): return owner != rank
        case .rowWise: return true
        }
    }

    /// The rank that serves lookups of `row` of table `t` (for replicated tables: none needed;
    /// `requester` itself).
    @inline(__always)
    public func owner(ofRow row: Int, table t: Int, requester: Int) -> Int {
        switch tables[t].placement {
        case .replicated: return requester
        case .tableWise(let owner): return owner
        case .rowWise:
            // Inverse of rowRange, in units of buckets: the largest r with r*U/N <= unit.
            let granularity = tables[t].bucketRows
            let units = tables[t].rowCount / granularity, unit = row / granularity
            var r = (unit * worldSize + worldSize - 1) / units
            r = min(max(r, 0), worldSize - 1)
            while r > 0 && r * units / worldSize > unit { r -= 1 }
            while r < worldSize - 1 && (r + 1) * units / worldSize <= unit { r += 1 }
            return r
        }
    }

    /// The rank that owns `key` of dynamic table `t`: the owner of the key's bucket.
    @inline(__always)
    public func owner(ofKey key: UInt64, table t: Int) -> Int {
        let table = tables[t], buckets = table.rowCount / table.bucketRows
        return owner(ofRow: DynamicTableRule.bucket(ofKey: key, bucketCount: buckets) * table.bucketRows, table: t, requester: 0)
    }

    /// Rows [r*U/N, (r+1)*U/N) in units of `granularity` rows (`rows` is a multiple of it).
    static func rowRange(rows: Int, rank: Int, worldSize: Int, granularity: Int = 1) -> Range<Int> {
        let units = rows / granularity
        return (rank * units / worldSize * granularity)..<((rank + 1) * units / worldSize * granularity)
    }
}
