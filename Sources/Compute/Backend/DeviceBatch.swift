/// A batch's inputs copied into backend memory: labels `(B, taskCount)`, dense features and each
/// table's bags.
///
/// The data pipeline fills host `Batch`es; a model loads each one here before its forward (one
/// copy per step, into buffers that grow and are reused). `host` stays readable for what is
/// planned on the host, such as the routing of sharded lookups.
public final class DeviceBatch: @unchecked Sendable {
    public let backend: any ComputeBackend
    public private(set) var host: Batch
    public private(set) var size = 0
    public let labels: DeviceBuffer<Float>
    public let dense: DeviceBuffer<Float>
    public private(set) var ids: [DeviceBuffer<Int32>]
    public let offsets: [DeviceBuffer<Int32>]
    private var idCounts: [Int]

    public init(backend: any ComputeBackend, capacity: Int, denseFeatureCount: Int, tableCount: Int, taskCount: Int = 1) {
        self.backend = backend
        self.capacity = capacity
        host = Batch(capacity: 1, denseFeatureCount: denseFeatureCount, tableCount: tableCount, taskCount: taskCount)
        labels = backend.makeFloats(capacity * taskCount)
        dense = backend.makeFloats(capacity * denseFeatureCount)
        ids = (0..<tableCount).map { _ in backend.makeIndices(capacity) }
        offsets = (0..<tableCount).map { _ in backend.makeIndices(capacity + 1) }
        idCounts = Array(repeating: 0, count: tableCount)
    }

    public let capacity: Int
    public var denseFeatureCount: Int { host.denseFeatureCount }
    public var taskCount: Int { host.taskCount }

    /// Copies `batch` in (its size at most `capacity`).
    public func load(_ batch: Batch) {
        precondition(batch.size <= capacity, "DeviceBatch: batch of \(batch.size) exceeds capacity \(capacity)")
        precondition(batch.tableCount == ids.count && batch.denseFeatureCount == denseFeatureCount && batch.taskCount == taskCount,
                     "DeviceBatch: batch of another shape")
        host = batch
        size = batch.size
        let labelCount = size * taskCount
        backend.upload(UnsafeBufferPointer(start: batch.labels.base, count: labelCount), to: labels.slice(0, labelCount))
        let denseCount = size * denseFeatureCount
        backend.upload(UnsafeBufferPointer(start: batch.dense.base, count: denseCount), to: dense.slice(0, denseCount))
        for (t, feature) in batch.sparse.enumerated() {
            let idCount = feature.idCount(samples: size)
            if idCount > ids[t].count { ids[t] = backend.makeIndices(max(idCount, 2 * ids[t].count)) }
            backend.upload(UnsafeBufferPointer(start: feature.ids.base, count: idCount), to: ids[t].slice(0, idCount))
            backend.upload(UnsafeBufferPointer(start: feature.offsets.base, count: size + 1), to: offsets[t].slice(0, size + 1))
            idCounts[t] = idCount
        }
    }

    /// Table t's bags of the loaded batch.
    public func bags(_ t: Int) -> EmbeddingBags {
        EmbeddingBags(ids: ids[t].whole, offsets: offsets[t].whole, rows: size, idCount: idCounts[t])
    }

    /// The loaded batch's labels, (B, taskCount).
    public var labelSlice: DeviceSlice<Float> { labels.slice(0, size * taskCount) }
}
