import Compute

/// Where pooled vectors go in a batch-major buffer: table t of sample b starts at
/// `base + firstOffset + t * tableOffset + b * rowStride`.
public struct PooledLayout: Sendable {
    public var firstOffset: Int
    public var tableOffset: Int
    public var rowStride: Int

    public init(firstOffset: Int, tableOffset: Int, rowStride: Int) {
        self.firstOffset = firstOffset
        self.tableOffset = tableOffset
        self.rowStride = rowStride
    }
}

/// What a model's embedding tables are, whatever their placement.
public struct EmbeddingSpecification: Sendable {
    /// Table t is named "\(name)/table\(t)" (its checkpoint path).
    public var name: String
    public var tableRowCounts: [Int]
    public var dimension: Int
    /// Uniform DLRM-reference initialisation from this seed, or zeros when nil.
    public var seed: UInt64?
    public var pooling: Pooling
    /// Per table, its rule when the table is dynamic (rows by key; `tableRowCounts` is then its
    /// capacity); empty when every table is fixed.
    public var dynamicTables: [DynamicTableRule?] = []
    /// How the tables store their rows.
    public var precision: TablePrecision = .fp32

    public init(name: String, tableRowCounts: [Int], dimension: Int, seed: UInt64?, pooling: Pooling = .sum) {
        self.name = name
        self.tableRowCounts = tableRowCounts
        self.dimension = dimension
        self.seed = seed
        self.pooling = pooling
    }

    /// Table t's rule, when it is dynamic.
    public func dynamicRule(ofTable t: Int) -> DynamicTableRule? { t < dynamicTables.count ? dynamicTables[t] : nil }
}

/// All embedding tables of one kind in a model (one dimension), looked up as a unit: the model
/// says where the pooled vectors go and where their gradients come from; the collection decides
/// where the rows live — all in this process (`LocalEmbeddings`) or sharded over ranks.
public protocol EmbeddingCollection: AnyObject {
    var specification: EmbeddingSpecification { get }
    /// The tables (or shards of tables) this process holds and updates.
    var localTables: [EmbeddingTable] { get }
    /// Pools every table's bags for `batch` into `output` laid out as `layout`.
    func forward(_ batch: DeviceBatch, output: DeviceSlice<Float>, layout: PooledLayout) throws
    /// Adds the sum over tables of the pooled bags to `output[b]` (width-1 tables: a wide model).
    func forwardSum(_ batch: DeviceBatch, output: DeviceSlice<Float>) throws
    /// Backward from the pooled gradients in `outputGradient` laid out as `layout`: the local
    /// tables end with their row gradients collected, or updated by fused SGD.
    func backward(_ batch: DeviceBatch, outputGradient: DeviceSlice<Float>, layout: PooledLayout,
                  mode: EmbeddingBackwardMode) throws

    // Pipelining, driven by the training pipeline: a collection whose rows live on other ranks
    // exchanges a batch's requests ahead of its forward; one whose rows are all here has
    // nothing to do (the defaults).

    /// Starts the lookup of `batch` without waiting for rows from other ranks; the `forward`
    /// that follows (of the same batch) waits for them. The caller computes meanwhile.
    func startLookup(_ batch: DeviceBatch) throws
    /// Starts exchanging the requests of `next`, the batch a later forward looks up as it is.
    func beginRouting(ahead next: Batch) throws
    /// Moves an exchange begun ahead on (called between the gradient all-reduces).
    func advanceRouting() throws
    /// Ends an exchange begun ahead whose batch will not be looked up.
    func abandonRouting() throws
    /// The next forward looks up the batch routed ahead (any other forward routes its own).
    func nextForwardTakesRoutingAhead()
    /// Whether lookups of dynamic tables may admit ids (training) or only find the rows ids
    /// already have (evaluation).
    func setLearnsKeys(_ learns: Bool)
}

extension EmbeddingCollection {
    public func startLookup(_ batch: DeviceBatch) throws {}
    public func beginRouting(ahead next: Batch) throws {}
    public func advanceRouting() throws {}
    public func abandonRouting() throws {}
    public func nextForwardTakesRoutingAhead() {}
    public func setLearnsKeys(_ learns: Bool) {}
}

extension PooledLayout {
    /// Where table t's pooled vectors start in `buffer` (empty past its end: a batch of none).
    public func start(ofTable t: Int, in buffer: DeviceSlice<Float>) -> DeviceSlice<Float> {
        buffer.suffix(from: min(firstOffset + t * tableOffset, buffer.count))
    }
}

/// Builds the embedding collection of a model on a backend for a batch capacity. `sameFeaturesAs`
/// is a collection built before over the same features (Wide&Deep's deep tables, for its wide
/// ones), whose forward runs first on every batch: a sharded collection reuses its request routing.
public typealias EmbeddingFactory = (EmbeddingSpecification, any ComputeBackend, _ batchCapacity: Int,
                                     _ sameFeaturesAs: EmbeddingCollection?) throws -> EmbeddingCollection

/// Every table whole, in this process.
public final class LocalEmbeddings: EmbeddingCollection, @unchecked Sendable {
    public let specification: EmbeddingSpecification
    public let localTables: [EmbeddingTable]

    public init(_ specification: EmbeddingSpecification, backend: any ComputeBackend, batchCapacity: Int) {
        self.specification = specification
        localTables = specification.tableRowCounts.enumerated().map { t, rows in
            let table = EmbeddingTable(backend: backend, name: "\(specification.name)/table\(t)", rowCount: rows,
                                       dimension: specification.dimension, batchCapacity: batchCapacity,
                                       pooling: specification.pooling, precision: specification.precision)
            if let seed = specification.seed { table.initializeUniform(seed: seed, tableIndex: t) }
            return table
        }
    }

    public static func make(_ specification: EmbeddingSpecification, backend: any ComputeBackend,
                            batchCapacity: Int, sameFeaturesAs: EmbeddingCollection?) -> EmbeddingCollection {
        LocalEmbeddings(specification, backend: backend, batchCapacity: batchCapacity)
    }

    public func forward(_ batch: DeviceBatch, output: DeviceSlice<Float>, layout: PooledLayout) {
        for (t, table) in localTables.enumerated() {
            table.forward(batch.bags(t), output: layout.start(ofTable: t, in: output), outputStride: layout.rowStride)
        }
    }

    public func forwardSum(_ batch: DeviceBatch, output: DeviceSlice<Float>) {
        for (t, table) in localTables.enumerated() { table.forwardAddingScalars(batch.bags(t), output: output) }
    }

    public func backward(_ batch: DeviceBatch, outputGradient: DeviceSlice<Float>, layout: PooledLayout,
                         mode: EmbeddingBackwardMode) {
        // Each table writes only its own rows and gradient: the tables go to the rank's threads.
        RowThreads.forEachItem(localTables.count) { t in
            localTables[t].backward(batch.bags(t), outputGradient: layout.start(ofTable: t, in: outputGradient),
                                    gradientStride: layout.rowStride, mode: mode)
        }
    }
}
