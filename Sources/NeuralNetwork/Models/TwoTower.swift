import Compute

/// Sizes of a two-tower retriever: which tables feed the item tower (the rest, and the dense
/// features, feed the user tower) and the towers' widths.
public struct TwoTowerArchitecture: Sendable, Equatable {
    public var denseFeatureCount: Int
    public var tableRowCounts: [Int]
    public var embeddingDimension: Int
    /// The item tower's tables, in the order its input concatenates them.
    public var itemTables: [Int]
    /// Each tower's MLP widths (ReLU between layers, none after the last); the last is the
    /// width of the vectors scored against each other.
    public var towerWidths: [Int]
    public var pooling: Pooling

    public init(denseFeatureCount: Int, tableRowCounts: [Int], embeddingDimension: Int, itemTables: [Int], towerWidths: [Int],
                pooling: Pooling = .sum) {
        self.denseFeatureCount = denseFeatureCount
        self.tableRowCounts = tableRowCounts
        self.embeddingDimension = embeddingDimension
        self.itemTables = itemTables
        self.towerWidths = towerWidths
        self.pooling = pooling
    }

    /// The user tower's tables: every table not the item tower's, in order.
    public var userTables: [Int] { tableRowCounts.indices.filter { !itemTables.contains($0) } }
    /// The width of the vectors: the towers' last layer.
    public var vectorWidth: Int { towerWidths.last ?? 0 }
}

/// A two-tower retriever (Yi et al., RecSys 2019): a user tower, an MLP over the user's pooled
/// embeddings and the dense features, and an item tower, an MLP over the item's pooled
/// embeddings, each output put on the unit sphere. A user and an item score by the dot product
/// of their vectors (over a temperature, in the loss).
///
/// Its outputs for a batch of B samples (each a user and an item it interacted with) are B user
/// vectors then B item vectors, each `vectorWidth` wide: the in-batch softmax scores every
/// user against every item of the (global) batch.
public final class TwoTower: RecommendationModel, @unchecked Sendable {
    public let architecture: TwoTowerArchitecture
    public let backend: any ComputeBackend
    public let arena: ParameterArena
    public let inputs: DeviceBatch
    /// Every table of both towers, looked up together (one exchange when sharded).
    public let embeddings: EmbeddingCollection
    public let userTower: MLP
    public let itemTower: MLP
    public let batchCapacity: Int
    /// The pooled embeddings of every table, (B, T * D), and their gradient.
    private let pooled: DeviceBuffer<Float>
    private let pooledGradient: DeviceBuffer<Float>
    /// Each tower's input, (B, width): its tables' pooled vectors (the user's, then the dense features).
    private let userInput: DeviceBuffer<Float>
    private let itemInput: DeviceBuffer<Float>
    /// The vectors of the last forward (B user vectors, then B item vectors), their norms before
    /// normalising, and their gradient.
    private let vectors: DeviceBuffer<Float>
    private let norms: DeviceBuffer<Float>
    private let vectorGradients: DeviceBuffer<Float>

    public init(_ architecture: TwoTowerArchitecture, batchCapacity: Int, seed: UInt64, backend: any ComputeBackend = CPUBackend(),
                makeEmbeddings: EmbeddingFactory = LocalEmbeddings.make) throws {
        precondition(!architecture.itemTables.isEmpty && !architecture.userTables.isEmpty,
                     "TwoTower: each tower needs at least one table")
        precondition(!architecture.towerWidths.isEmpty, "TwoTower: a tower needs at least one layer")
        self.architecture = architecture
        self.batchCapacity = batchCapacity
        self.backend = backend
        let arena = ParameterArena(backend: backend)
        self.arena = arena
        let d = architecture.embeddingDimension, tables = architecture.tableRowCounts.count
        inputs = DeviceBatch(backend: backend, capacity: batchCapacity, denseFeatureCount: architecture.denseFeatureCount,
                             tableCount: tables, taskCount: 1)
        embeddings = try makeEmbeddings(EmbeddingSpecification(name: "embeddings", tableRowCounts: architecture.tableRowCounts,
                                                               dimension: d, seed: seed, pooling: architecture.pooling),
                                        backend, batchCapacity, nil)
        let userWidth = architecture.userTables.count * d + architecture.denseFeatureCount
        let itemWidth = architecture.itemTables.count * d
        userTower = MLP(arena: arena, name: "user_tower", inputSize: userWidth, widths: architecture.towerWidths, reluOnLast: false,
                        batchCapacity: batchCapacity, needsInputGradient: true)
        itemTower = MLP(arena: arena, name: "item_tower", inputSize: itemWidth, widths: architecture.towerWidths, reluOnLast: false,
                        batchCapacity: batchCapacity, needsInputGradient: true)
        pooled = backend.makeFloats(batchCapacity * tables * d)
        pooledGradient = backend.makeFloats(batchCapacity * tables * d)
        userInput = backend.makeFloats(batchCapacity * userWidth)
        itemInput = backend.makeFloats(batchCapacity * itemWidth)
        vectors = backend.makeFloats(2 * batchCapacity * architecture.vectorWidth)
        norms = backend.makeFloats(2 * batchCapacity)
        vectorGradients = backend.makeFloats(2 * batchCapacity * architecture.vectorWidth)
        arena.allocate()

        var generator = SeededGenerator(seed: seed, stream: 1)
        userTower.initialize(using: &generator)
        itemTower.initialize(using: &generator)
    }

    public var embeddingTables: [EmbeddingTable] { embeddings.localTables }
    public var embeddingCollections: [EmbeddingCollection] { [embeddings] }
    /// Values per sample: its user vector and its item vector.
    public var outputCount: Int { 2 * vectorWidth }
    public var vectorWidth: Int { architecture.vectorWidth }
    public var logitGradient: DeviceSlice<Float> { vectorGradients.slice(0, inputs.size * outputCount) }
    /// The arena slice of both towers (reserved one after the other).
    public var towerRange: Range<Int> { userTower.parameterRange.lowerBound..<itemTower.parameterRange.upperBound }

    /// Table t's pooled vector goes to columns t*D ..< (t+1)*D of the pooled matrix.
    private var pooledLayout: PooledLayout {
        PooledLayout(firstOffset: 0, tableOffset: architecture.embeddingDimension,
                     rowStride: architecture.tableRowCounts.count * architecture.embeddingDimension)
    }

    /// Copies each of `tables`' blocks of the pooled matrix into a tower's input (`toTower`),
    /// or a tower's input gradient back into the pooled gradient.
    private func move(_ tables: [Int], pooled: DeviceSlice<Float>, tower: DeviceSlice<Float>, towerWidth: Int, rows: Int, toTower: Bool) {
        let d = architecture.embeddingDimension, stride = architecture.tableRowCounts.count * d
        for (position, table) in tables.enumerated() {
            let pooledBlock = pooled.suffix(from: table * d), towerBlock = tower.suffix(from: position * d)
            if toTower {
                backend.copyRows(from: pooledBlock, sourceStride: stride, to: towerBlock, destinationStride: towerWidth, rows: rows, columns: d)
            } else {
                backend.copyRows(from: towerBlock, sourceStride: towerWidth, to: pooledBlock, destinationStride: stride, rows: rows, columns: d)
            }
        }
    }

    public func forward(_ batch: Batch) throws -> DeviceSlice<Float> {
        inputs.load(batch)
        let rows = batch.size, d = architecture.embeddingDimension, width = vectorWidth
        let denseCount = architecture.denseFeatureCount, userWidth = userTower.inputSize
        try embeddings.forward(inputs, output: pooled.whole, layout: pooledLayout)
        move(architecture.userTables, pooled: pooled.whole, tower: userInput.whole, towerWidth: userWidth, rows: rows, toTower: true)
        backend.copyRows(from: inputs.dense.whole, sourceStride: denseCount, to: userInput.whole.suffix(from: architecture.userTables.count * d),
                         destinationStride: userWidth, rows: rows, columns: denseCount)
        move(architecture.itemTables, pooled: pooled.whole, tower: itemInput.whole, towerWidth: itemTower.inputSize, rows: rows,
             toTower: true)
        let users = userTower.forward(input: userInput.whole, rows: rows)
        let items = itemTower.forward(input: itemInput.whole, rows: rows)
        backend.normalizeRows(users, into: vectors.slice(0, rows * width), norms: norms.slice(0, rows), rows: rows, columns: width)
        backend.normalizeRows(items, into: vectors.slice(rows * width, rows * width), norms: norms.slice(rows, rows), rows: rows,
                              columns: width)
        return vectors.slice(0, 2 * rows * width)
    }

    /// Both towers (through the normalisation); the tables.
    public func backwardStages(embeddingMode: EmbeddingBackwardMode) -> [BackwardStage] {
        let rows = inputs.size, width = vectorWidth, gradient = logitGradient
        return [{
            for (tower, first) in [(self.userTower, 0), (self.itemTower, rows)] {
                self.backend.normalizeRowsBackward(output: self.vectors.slice(first * width, rows * width), norms: self.norms.slice(first, rows),
                                                   outputGradient: gradient.suffix(from: first * width), into: tower.outputGradient,
                                                   rows: rows, columns: width)
            }
            let userGradient = self.userTower.backward(input: self.userInput.whole, rows: rows)!
            let itemGradient = self.itemTower.backward(input: self.itemInput.whole, rows: rows)!
            self.move(self.architecture.userTables, pooled: self.pooledGradient.whole, tower: userGradient,
                      towerWidth: self.userTower.inputSize, rows: rows, toTower: false)
            self.move(self.architecture.itemTables, pooled: self.pooledGradient.whole, tower: itemGradient,
                      towerWidth: self.itemTower.inputSize, rows: rows, toTower: false)
            return self.towerRange
        }, {
            try self.embeddings.backward(self.inputs, outputGradient: self.pooledGradient.whole, layout: self.pooledLayout,
                                         mode: embeddingMode)
            return nil
        }]
    }
}
