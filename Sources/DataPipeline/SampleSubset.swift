import Compute

/// Some samples of a source, in a given order, as a source of their own (a retriever's item
/// catalogue: one sample per item, whose item features the item tower reads).
public struct SampleSubset: SampleSource {
    public let base: SampleSource
    /// The base's sample of each of this source's samples.
    public let indices: [Int]

    public init(_ base: SampleSource, indices: [Int]) {
        precondition(indices.allSatisfy { (0..<base.count).contains($0) }, "SampleSubset: an index outside the source")
        self.base = base
        self.indices = indices
    }

    public var count: Int { indices.count }
    public var denseFeatureCount: Int { base.denseFeatureCount }
    public var idsPerSample: [Int] { base.idsPerSample }
    public var tasks: [PredictionTask] { base.tasks }
    public var labels: [Float] {
        let all = base.labels, tasks = base.taskCount
        return indices.flatMap { all[($0 * tasks)..<(($0 + 1) * tasks)] }
    }
    public var plantedLogits: [Float]? { nil }

    public func fill(_ batch: Batch, order: UnsafeBufferPointer<Int>, start: Int, size: Int) throws {
        let mapped = (0..<size).map { indices[order[start + $0]] }
        try mapped.withUnsafeBufferPointer { try base.fill(batch, order: $0, start: 0, size: size) }
    }
}

extension SampleSource {
    /// The first id of table `table` in every sample (-1 for an empty bag), read `chunk` samples
    /// at a time: a retriever's user or item of each interaction.
    public func firstIDs(ofTables tables: [Int], chunk: Int = 4096) throws -> [[Int32]] {
        var result = tables.map { _ in [Int32](repeating: -1, count: count) }
        let batch = Batch(capacity: chunk, denseFeatureCount: denseFeatureCount, tableCount: tableCount,
                          idsPerSample: idsPerSample.max() ?? 1, taskCount: taskCount)
        let order = Array(0..<count)
        try order.withUnsafeBufferPointer { order in
            for start in stride(from: 0, to: count, by: chunk) {
                let size = min(chunk, count - start)
                try fill(batch, order: order, start: start, size: size)
                for (k, table) in tables.enumerated() {
                    for b in 0..<size { result[k][start + b] = batch.firstID(ofTable: table, sample: b) }
                }
            }
        }
        return result
    }
}

extension Batch {
    /// The first id of table `table` in sample `sample` (-1 for an empty bag): a retriever's
    /// user or item.
    public func firstID(ofTable table: Int, sample: Int) -> Int32 {
        let feature = sparse[table]
        return feature.offsets[sample + 1] > feature.offsets[sample] ? feature.ids[Int(feature.offsets[sample])] : -1
    }
}
