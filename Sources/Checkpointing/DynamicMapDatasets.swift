import NeuralNetwork

/// A dynamic table's map in a checkpoint, beside its weights and addressed by the same global
/// rows: `/<table>/keys` (rows, 1) UInt64 (2^64-1: no key), `/<table>/last_used` and
/// `/<table>/use_count` (rows, 1) UInt32, and `/<table>/admission_sketch` (rows, 8) UInt8 (a
/// bucket's counters are the rows of the bucket). Buckets are placed by key hash whatever the
/// number of ranks, so loading a shard's rows on any number of ranks re-partitions by key.
enum DynamicMapDatasets {
    /// The datasets' names under a table and their columns.
    static let keys = "keys", lastUsed = "last_used", useCount = "use_count", sketch = "admission_sketch"
    static let sketchColumns = DynamicTableRule.sketchCountersPerRow

    /// Bytes `write` stores for `map`: its keys, clocks, use counts and sketch counters.
    static func bytes(of map: DynamicRowMap) -> Int {
        map.rowCount * (MemoryLayout<UInt64>.size + 2 * MemoryLayout<UInt32>.size + sketchColumns)
    }

    /// Writes `map`, a shard of `table`, into its shard file.
    static func write(_ map: DynamicRowMap, table: String, to file: HDF5File) throws {
        try file.write("\(table)/\(keys)", shape: [map.rowCount, 1], values: UnsafeBufferPointer(map.keys))
        try file.write("\(table)/\(lastUsed)", shape: [map.rowCount, 1], values: UnsafeBufferPointer(map.lastUsed))
        try file.write("\(table)/\(useCount)", shape: [map.rowCount, 1], values: UnsafeBufferPointer(map.useCount))
        try file.write("\(table)/\(sketch)", shape: [map.rowCount, sketchColumns], values: UnsafeBufferPointer(map.sketch))
    }

    /// The whole-table virtual datasets of the map of `table` in `dense`, stitched from the
    /// shard files as the weights are.
    static func writeVirtual(table: String, rows: Int, sources: [(file: String, rows: Range<Int>)], to dense: HDF5File) throws {
        func stitched(_ name: String) -> [(file: String, dataset: String, rows: Range<Int>)] {
            sources.map { ($0.file, "\(table)/\(name)", $0.rows) }
        }
        try dense.writeVirtualRows("\(table)/\(keys)", rows: rows, columns: 1, of: UInt64.self, sources: stitched(keys))
        try dense.writeVirtualRows("\(table)/\(lastUsed)", rows: rows, columns: 1, of: UInt32.self, sources: stitched(lastUsed))
        try dense.writeVirtualRows("\(table)/\(useCount)", rows: rows, columns: 1, of: UInt32.self, sources: stitched(useCount))
        try dense.writeVirtualRows("\(table)/\(sketch)", rows: rows, columns: sketchColumns, of: UInt8.self,
                                   sources: stitched(sketch))
    }

    /// Reads the rows `map` holds of `table` from the shard files that wrote them (`shards`:
    /// each file with the global rows it holds), checking each dataset against its checksum;
    /// the map's clock is set to `step`.
    static func read(into map: DynamicRowMap, table: String, shards: [(file: HDF5File, rows: Range<Int>)], step: Int) throws {
        let rows = map.firstRow..<(map.firstRow + map.rowCount)
        func read<T: HDF5Scalar>(_ name: String, columns: Int, into values: UnsafeMutableBufferPointer<T>) throws {
            for shard in shards where shard.rows.overlaps(rows) {
                try shard.file.readVerifiedRows("\(table)/\(name)", rows: shard.rows.count, columns: columns) { (block, read: UnsafePointer<T>) in
                    let global = (shard.rows.lowerBound + block.lowerBound)..<(shard.rows.lowerBound + block.upperBound)
                    let wanted = global.clamped(to: rows)
                    guard !wanted.isEmpty else { return }
                    (values.baseAddress! + (wanted.lowerBound - rows.lowerBound) * columns)
                        .update(from: read + (wanted.lowerBound - global.lowerBound) * columns, count: wanted.count * columns)
                }
            }
        }
        try read(keys, columns: 1, into: map.keys)
        try read(lastUsed, columns: 1, into: map.lastUsed)
        try read(useCount, columns: 1, into: map.useCount)
        try read(sketch, columns: sketchColumns, into: map.sketch)
        map.step = UInt32(truncatingIfNeeded: step)
    }
}
