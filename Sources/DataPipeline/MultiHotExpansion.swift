import Compute

/// One-hot data made multi-hot as MLPerf's DLRMv2 does with Criteo Terabyte: table t's id x
/// becomes a bag of `sizes[t]` ids — x itself, then (x + u_j) mod rows for j = 1 ..< sizes[t],
/// with offsets u_j uniform over the table and fixed per (table, x, j) — so an id always brings
/// the same bag. MLPerf materialises the bags from a seeded NumPy stream; here each u_j is a
/// seeded 64-bit hash of (table, x, j), which needs no table of offsets and no second copy of
/// the data. A size of 1 leaves a table one-hot; an empty bag stays empty.
public struct MultiHotExpansion: SampleSource {
    public let source: SampleSource
    public let sizes: [Int]
    public let tableRows: [Int]
    public let seed: UInt64

    /// Throws when a table the sizes make multi-hot is not one-hot in `source`.
    public init(_ source: SampleSource, sizes: [Int], tableRows: [Int], seed: UInt64 = 0) throws {
        guard sizes.count == source.tableCount, tableRows.count == source.tableCount else {
            throw DataError("multi_hot_sizes has \(sizes.count) entries for \(source.tableCount) tables")
        }
        for t in sizes.indices where sizes[t] > 1 && source.idsPerSample[t] > 1 {
            throw DataError("multi_hot_sizes[\(t)]: table \(t) already holds bags of up to \(source.idsPerSample[t]) ids; "
                            + "only one-hot tables are made multi-hot")
        }
        self.source = source
        self.sizes = sizes
        self.tableRows = tableRows
        self.seed = seed
    }

    public var count: Int { source.count }
    public var denseFeatureCount: Int { source.denseFeatureCount }
    public var idsPerSample: [Int] { zip(sizes, source.idsPerSample).map { max($0, $1) } }
    public var tasks: [PredictionTask] { source.tasks }
    public var labels: [Float] { source.labels }
    public var plantedLogits: [Float]? { source.plantedLogits }

    /// The source's samples, then each multi-hot table's bags expanded in place from the last
    /// sample to the first (a bag only moves to a later place, never over one still to read).
    public func fill(_ batch: Batch, order: UnsafeBufferPointer<Int>, start: Int, size: Int) throws {
        try source.fill(batch, order: order, start: start, size: size)
        var offsets = [Int32](repeating: 0, count: size + 1)
        for (t, bagSize) in sizes.enumerated() where bagSize > 1 {
            let feature = batch.sparse[t]
            for b in 0..<size {
                let hasID = feature.offsets[b + 1] > feature.offsets[b]
                offsets[b + 1] = offsets[b] + (hasID ? Int32(bagSize) : 0)
            }
            feature.ids.reserve(Int(offsets[size]))
            for b in stride(from: size - 1, through: 0, by: -1) where feature.offsets[b + 1] > feature.offsets[b] {
                let id = feature.ids[Int(feature.offsets[b])], first = Int(offsets[b])
                feature.ids[first] = id
                for j in 1..<bagSize { feature.ids[first + j] = Int32(extraID(table: t, id: id, slot: j)) }
            }
            for b in 0...size { feature.offsets[b] = offsets[b] }
        }
    }

    /// (id + u) mod rows with u = a SplitMix64 hash of (seed, table, id, slot) reduced to the rows.
    func extraID(table: Int, id: Int32, slot: Int) -> Int {
        var z = seed &+ (UInt64(table) << 48) &+ (UInt64(UInt32(bitPattern: id)) << 8) &+ UInt64(slot) &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        let rows = UInt64(tableRows[table])
        return Int((UInt64(UInt32(bitPattern: id)) + z % rows) % rows)
    }
}
