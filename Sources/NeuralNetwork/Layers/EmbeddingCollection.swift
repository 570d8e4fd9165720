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

    public init(name: String, tableRowCounts: [Int], dimension: Int, seed: UInt64?) {
        self.name = name
        self.tableRowCounts = tableRowCounts
        self.dimension = dimension
        self.seed = seed
    }
}

/// All embedding tables of one kind in a model (one dimension), looked up as a unit: the model
/// says where the pooled vectors go and where their gradients come from; the collection decides
/// where the rows live — all in this process (`LocalEmbeddings`) or sharded over ranks.
public protocol EmbeddingCollection: AnyObject {
    var specification: EmbeddingSpecification { get }
    /// The tables (or shards of tables) this process holds and updates.
    var localTables: [EmbeddingTable] { get }
    /// Pools every table's bags for `batch` into `output` laid out as `layout`.
    func forward(_ batch: Batch, output: UnsafeMutablePointer<Float>, layout: PooledLayout) throws
    /// Adds the sum over tables of the pooled bags to `output[b]` (width-1 tables: a wide model).
    func forwardSum(_ batch: Batch, output: UnsafeMutablePointer<Float>) throws
    /// Backward from the pooled gradients in `outputGradient` laid out as `layout`: the local
    /// tables end with their row gradients collected, or updated by fused SGD.
    func backward(_ batch: Batch, outputGradient: UnsafePointer<Float>, layout: PooledLayout,
                  mode: EmbeddingBackwardMode) throws
}

/// Builds the embedding collection of a model for a batch capacity.
public typealias EmbeddingFactory = (EmbeddingSpecification, _ batchCapacity: Int) throws -> EmbeddingCollection

/// Every table whole, in this process.
public final class LocalEmbeddings: EmbeddingCollection, @unchecked Sendable {
    public let specification: EmbeddingSpecification
    public let localTables: [EmbeddingTable]

    public init(_ specification: EmbeddingSpecification, batchCapacity: Int) {
        self.specification = specification
        localTables = specification.tableRowCounts.enumerated().map { t, rows in
            let table = EmbeddingTable(name: "\(specification.name)/table\(t)", rowCount: rows,
                                       dimension: specification.dimension, batchCapacity: batchCapacity)
            if let seed = specification.seed { table.initializeUniform(seed: seed, tableIndex: t) }
            return table
        }
    }

    public static func make(_ specification: EmbeddingSpecification, batchCapacity: Int) -> EmbeddingCollection {
        LocalEmbeddings(specification, batchCapacity: batchCapacity)
    }

    public func forward(_ batch: Batch, output: UnsafeMutablePointer<Float>, layout: PooledLayout) {
        for (t, table) in localTables.enumerated() {
            table.forward(batch.sparse[t], rows: batch.size, output: output + layout.firstOffset + t * layout.tableOffset,
                          outputStride: layout.rowStride)
        }
    }

    public func forwardSum(_ batch: Batch, output: UnsafeMutablePointer<Float>) {
        for (t, table) in localTables.enumerated() {
            table.forwardAddingScalars(batch.sparse[t], rows: batch.size, output: output)
        }
    }

    public func backward(_ batch: Batch, outputGradient: UnsafePointer<Float>, layout: PooledLayout,
                         mode: EmbeddingBackwardMode) {
        for (t, table) in localTables.enumerated() {
            table.backward(batch.sparse[t], rows: batch.size,
                           outputGradient: outputGradient + layout.firstOffset + t * layout.tableOffset,
                           gradientStride: layout.rowStride, mode: mode)
        }
    }
}
