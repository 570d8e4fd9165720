import Compute

/// Labelled samples that a `BatchLoader` can draw batches from: synthetic data in memory, or a
/// memory-mapped record file.
public protocol SampleSource: Sendable {
    var count: Int { get }
    var denseFeatureCount: Int { get }
    /// Per table, the most ids one sample has (its bag capacity).
    var idsPerSample: [Int] { get }
    /// What each sample is labelled with: one label per task (a single click label by default).
    var tasks: [PredictionTask] { get }
    /// Every label, (count, taskCount) row-major, in order (what held-out metrics are computed against).
    var labels: [Float] { get }
    /// Logits of the model that generated the labels, (count, taskCount), for synthetic data.
    var plantedLogits: [Float]? { get }
    /// Copies samples `order[start ..< start + size]` into `batch` (labels, dense, CSR ids);
    /// throws on an id outside its table, naming the sample.
    func fill(_ batch: Batch, order: UnsafeBufferPointer<Int>, start: Int, size: Int) throws
}

extension SampleSource {
    public var tableCount: Int { idsPerSample.count }
    public var taskCount: Int { tasks.count }
}

extension InMemoryDataset: SampleSource {}
