import Compute

/// Walks a dataset in batches: in order, or in a seeded order that is reshuffled every epoch.
///
/// The batch size is the global batch; the last batch of an epoch is dropped when
/// `dropLast` is set (training) and kept short otherwise (evaluation).
public final class BatchLoader: @unchecked Sendable {
    public let dataset: InMemoryDataset
    public let batchSize: Int
    public let shuffleSeed: UInt64?
    public let dropLast: Bool
    public let batch: Batch
    public private(set) var epoch = 0
    private var position = 0
    private var order: [Int]

    public init(dataset: InMemoryDataset, batchSize: Int, shuffleSeed: UInt64?, dropLast: Bool) {
        precondition(batchSize > 0, "BatchLoader: batch size must be positive")
        self.dataset = dataset
        self.batchSize = batchSize
        self.shuffleSeed = shuffleSeed
        self.dropLast = dropLast
        batch = Batch(capacity: batchSize, denseFeatureCount: dataset.denseFeatureCount,
                      tableCount: dataset.tableCount, idsPerSample: dataset.idsPerSample.max() ?? 1)
        order = Array(0..<dataset.count)
        reorder()
    }

    /// Full batches in one pass over the data (plus a short one when `dropLast` is off).
    public var batchesPerEpoch: Int {
        dropLast ? dataset.count / batchSize : (dataset.count + batchSize - 1) / batchSize
    }

    /// Fills `batch` with the next batch; returns false at the end of an epoch (after which the
    /// next call starts the following epoch).
    public func next() -> Bool {
        let remaining = dataset.count - position
        if remaining <= 0 || (dropLast && remaining < batchSize) {
            epoch += 1
            position = 0
            reorder()
            return false
        }
        let size = min(batchSize, remaining)
        order.withUnsafeBufferPointer { dataset.fill(batch, order: $0, start: position, size: size) }
        position += size
        return true
    }

    private func reorder() {
        guard let shuffleSeed else { return }
        var generator = SeededGenerator(seed: shuffleSeed, stream: UInt64(epoch))
        for i in 0..<dataset.count { order[i] = i }
        order.shuffle(using: &generator)
    }
}
