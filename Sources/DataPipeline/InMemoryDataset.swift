import Compute

/// Samples held in memory, column by column: labels (N, tasks), dense features (N,
/// denseFeatureCount) row-major, and per table a fixed-size bag of ids per sample (N, idsPerSample[t]).
public struct InMemoryDataset: Sendable {
    public let denseFeatureCount: Int
    public let idsPerSample: [Int]
    public let tasks: [PredictionTask]
    public var labels: [Float]
    public var dense: [Float]
    public var ids: [[Int32]]
    /// Logits of the model that generated the labels, when the data is synthetic: its AUC on
    /// the data is the ceiling a trained model can be compared with.
    public var plantedLogits: [Float]?
    /// Per table, whether its ids are raw ids of a dynamic table: batches get them as keys.
    public var keyedTables: [Bool] = []

    public init(denseFeatureCount: Int, idsPerSample: [Int], labels: [Float], dense: [Float], ids: [[Int32]],
                plantedLogits: [Float]? = nil, tasks: [PredictionTask] = [.click]) {
        let count = labels.count / max(tasks.count, 1)
        precondition(!tasks.isEmpty && labels.count == count * tasks.count, "InMemoryDataset: labels size mismatch")
        precondition(dense.count == count * denseFeatureCount, "InMemoryDataset: dense size mismatch")
        precondition(ids.count == idsPerSample.count, "InMemoryDataset: table count mismatch")
        for (t, column) in ids.enumerated() {
            precondition(column.count == count * idsPerSample[t], "InMemoryDataset: ids size mismatch in table \(t)")
        }
        self.denseFeatureCount = denseFeatureCount
        self.idsPerSample = idsPerSample
        self.tasks = tasks
        self.labels = labels
        self.dense = dense
        self.ids = ids
        self.plantedLogits = plantedLogits
    }

    public var count: Int { labels.count / tasks.count }
    public var tableCount: Int { idsPerSample.count }

    /// Copies samples `order[start ..< start + size]` into `batch` (dense, labels, CSR ids).
    public func fill(_ batch: Batch, order: UnsafeBufferPointer<Int>, start: Int, size: Int) {
        precondition(size <= batch.capacity, "batch of \(size) exceeds capacity \(batch.capacity)")
        precondition(batch.taskCount == tasks.count, "batch of \(batch.taskCount) tasks for \(tasks.count)")
        let denseCount = denseFeatureCount, taskCount = tasks.count
        labels.withUnsafeBufferPointer { labels in
            dense.withUnsafeBufferPointer { dense in
                for b in 0..<size {
                    let sample = order[start + b]
                    for k in 0..<taskCount { batch.labels[b * taskCount + k] = labels[sample * taskCount + k] }
                    (batch.dense.base + b * denseCount).update(from: dense.baseAddress! + sample * denseCount,
                                                               count: denseCount)
                }
            }
        }
        for t in 0..<tableCount {
            let bag = idsPerSample[t]
            let feature = batch.sparse[t]
            feature.ids.reserve(size * bag)
            feature.carriesKeys = t < keyedTables.count && keyedTables[t]
            ids[t].withUnsafeBufferPointer { column in
                let out = feature.ids.base, offsets = feature.offsets.base
                offsets[0] = 0
                for b in 0..<size {
                    let sample = order[start + b]
                    (out + b * bag).update(from: column.baseAddress! + sample * bag, count: bag)
                    offsets[b + 1] = Int32((b + 1) * bag)
                }
            }
            if feature.carriesKeys {
                let count = size * bag
                feature.keys.reserve(count)
                for k in 0..<count { feature.keys[k] = UInt64(UInt32(bitPattern: feature.ids[k])) }
            }
        }
        batch.size = size
    }
}
