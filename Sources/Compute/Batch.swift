/// The ids of one categorical feature for a batch, as a bag per sample (CSR layout).
///
/// Sample `b` owns `ids[offsets[b] ..< offsets[b + 1]]`; a one-hot feature has one id per sample,
/// a multi-hot feature any number (zero included: an empty bag pools to a zero vector).
///
/// A dynamic table (rows found by key, not by position) reads `keys` instead: the raw 64-bit id
/// of each entry, filled only when `carriesKeys` (its `ids` then hold no row numbers).
public final class SparseFeature: @unchecked Sendable {
    public let ids: IndexBuffer
    /// `batchCapacity + 1` offsets; `offsets[0] == 0`.
    public let offsets: IndexBuffer
    /// The raw id of each entry, parallel to `ids`, for a dynamic table.
    public let keys: KeyBuffer
    /// Whether sources fill `keys` (set for the features of dynamic tables).
    public var carriesKeys = false

    public init(batchCapacity: Int, idsPerSample: Int = 1) {
        ids = IndexBuffer(capacity: batchCapacity * max(idsPerSample, 1))
        offsets = IndexBuffer(capacity: batchCapacity + 1)
        keys = KeyBuffer(capacity: 1)
    }

    /// Number of ids of the first `samples` samples.
    public func idCount(samples: Int) -> Int { Int(offsets[samples]) }
}

/// One batch of training samples, laid out for the model: labels `(B, taskCount)` row-major,
/// dense features `(B, denseFeatureCount)` row-major, and one `SparseFeature` per embedding
/// table. Its buffers are sized once for `capacity` samples and refilled every step.
public final class Batch: @unchecked Sendable {
    public let capacity: Int
    public let denseFeatureCount: Int
    /// Labels per sample: one per task.
    public let taskCount: Int
    public let labels: FloatBuffer
    public let dense: FloatBuffer
    public let sparse: [SparseFeature]
    /// Samples currently held (at most `capacity`; the last batch of a pass may be short).
    public var size: Int
    /// Which batch of its loader this is (the same for the same samples, different for any other
    /// batch of the run); -1 for a batch no loader filled. The training pipeline tells by it that
    /// the batch a forward takes is the one it routed ahead.
    public var serial = -1

    public init(capacity: Int, denseFeatureCount: Int, tableCount: Int, idsPerSample: Int = 1, taskCount: Int = 1) {
        self.capacity = capacity
        self.denseFeatureCount = denseFeatureCount
        self.taskCount = taskCount
        labels = FloatBuffer(count: capacity * taskCount)
        dense = FloatBuffer(count: capacity * denseFeatureCount)
        sparse = (0..<tableCount).map { _ in SparseFeature(batchCapacity: capacity, idsPerSample: idsPerSample) }
        size = 0
    }

    /// A view of some of `batch`'s tables (`tables`, in that order) over the same buffers, with
    /// the same size: a model that looks up one feature apart (BST's behaviour sequence) hands
    /// the others to a collection that expects them alone.
    public init(viewing batch: Batch, tables: [Int]) {
        capacity = batch.capacity
        denseFeatureCount = batch.denseFeatureCount
        taskCount = batch.taskCount
        labels = batch.labels
        dense = batch.dense
        sparse = tables.map { batch.sparse[$0] }
        size = batch.size
        serial = batch.serial
    }

    public var tableCount: Int { sparse.count }
}

extension Batch {
    /// Fills this batch with `first`'s samples then `second`'s (labels, dense features, each
    /// table's bags and keys): a retriever's interactions followed by its sampled negatives.
    /// Its capacity must hold both; its serial is -1 (no loader filled it).
    public func fill(concatenating first: Batch, _ second: Batch) {
        let rows = first.size + second.size
        precondition(rows <= capacity && first.tableCount == tableCount && second.tableCount == tableCount
                     && first.denseFeatureCount == denseFeatureCount && first.taskCount == taskCount,
                     "Batch.fill(concatenating:): \(rows) samples into a batch of \(capacity), or different shapes")
        labels.base.update(from: first.labels.base, count: first.size * taskCount)
        (labels.base + first.size * taskCount).update(from: second.labels.base, count: second.size * taskCount)
        dense.base.update(from: first.dense.base, count: first.size * denseFeatureCount)
        (dense.base + first.size * denseFeatureCount).update(from: second.dense.base, count: second.size * denseFeatureCount)
        for t in 0..<tableCount {
            let a = first.sparse[t], b = second.sparse[t], into = sparse[t]
            let countA = a.idCount(samples: first.size), countB = b.idCount(samples: second.size)
            into.ids.reserve(countA + countB)
            into.ids.base.update(from: a.ids.base, count: countA)
            (into.ids.base + countA).update(from: b.ids.base, count: countB)
            into.carriesKeys = a.carriesKeys
            if a.carriesKeys {
                into.keys.reserve(countA + countB)
                into.keys.base.update(from: a.keys.base, count: countA)
                (into.keys.base + countA).update(from: b.keys.base, count: countB)
            }
            into.offsets.base.update(from: a.offsets.base, count: first.size + 1)
            for s in 0..<second.size { into.offsets[first.size + 1 + s] = Int32(countA) + b.offsets[s + 1] }
        }
        size = rows
        serial = -1
    }
}
