import Compute

/// Sizes of a DLRM with DCNv2 cross layers.
public struct DCNv2Architecture: Sendable, Equatable {
    public var denseFeatureCount: Int
    public var tableRowCounts: [Int]
    public var embeddingDimension: Int
    /// Bottom MLP widths after the dense input; the last must equal `embeddingDimension`.
    /// Unused without dense features: then there is no bottom MLP.
    public var bottomWidths: [Int]
    public var crossLayers: Int
    public var crossRank: Int
    /// Top MLP widths after the cross layers; the last must be 1.
    public var topWidths: [Int]
    /// How each table's bag is pooled.
    public var pooling: Pooling

    public init(denseFeatureCount: Int, tableRowCounts: [Int], embeddingDimension: Int, bottomWidths: [Int],
                crossLayers: Int, crossRank: Int, topWidths: [Int], pooling: Pooling = .sum) {
        self.denseFeatureCount = denseFeatureCount
        self.tableRowCounts = tableRowCounts
        self.embeddingDimension = embeddingDimension
        self.bottomWidths = bottomWidths
        self.crossLayers = crossLayers
        self.crossRank = crossRank
        self.topWidths = topWidths
        self.pooling = pooling
    }
}

/// DLRM with a DCNv2 interaction (TorchRec's `DLRM_DCN`, MLPerf's DLRMv2): bottom MLP over the
/// dense features -> x0 = concat(bottom output, pooled embeddings) -> low-rank cross layers ->
/// top MLP -> one logit. Without dense features, x0 is the embeddings alone.
public final class DCNv2: RecommendationModel, @unchecked Sendable {
    public let architecture: DCNv2Architecture
    public let backend: any ComputeBackend
    public let arena: ParameterArena
    public let inputs: DeviceBatch
    public let bottomMLP: MLP?
    public let embeddings: EmbeddingCollection
    public let cross: LowRankCrossNetwork
    public let topMLP: MLP
    public let batchCapacity: Int
    public var onGradientsReady: ((Range<Int>) -> Void)?
    /// x0, (B, (1 + T) D): bottom output in slot 0, table t in slot t + 1 (without a bottom MLP,
    /// (B, T D): table t in slot t).
    private let crossInput: DeviceBuffer<Float>

    /// - Parameters:
    ///   - backend: where the parameters live and the arithmetic runs.
    ///   - makeEmbeddings: where the tables live (default: all in this process).
    public init(_ architecture: DCNv2Architecture, batchCapacity: Int, seed: UInt64, backend: any ComputeBackend = CPUBackend(),
                makeEmbeddings: EmbeddingFactory = LocalEmbeddings.make) throws {
        precondition(architecture.denseFeatureCount == 0 || architecture.bottomWidths.last == architecture.embeddingDimension,
                     "DCNv2: bottom MLP must end at the embedding dimension")
        precondition(architecture.topWidths.last == 1, "DCNv2: top MLP must end at width 1")
        self.architecture = architecture
        self.batchCapacity = batchCapacity
        self.backend = backend
        arena = ParameterArena(backend: backend)
        inputs = DeviceBatch(backend: backend, capacity: batchCapacity, denseFeatureCount: architecture.denseFeatureCount,
                             tableCount: architecture.tableRowCounts.count)
        let d = architecture.embeddingDimension, t = architecture.tableRowCounts.count
        let hasDense = architecture.denseFeatureCount > 0
        bottomMLP = hasDense ? MLP(arena: arena, name: "bottom_mlp", inputSize: architecture.denseFeatureCount,
                                   widths: architecture.bottomWidths, reluOnLast: true, batchCapacity: batchCapacity,
                                   needsInputGradient: false) : nil
        embeddings = try makeEmbeddings(EmbeddingSpecification(name: "embeddings", tableRowCounts: architecture.tableRowCounts,
                                                               dimension: d, seed: seed, pooling: architecture.pooling),
                                        backend, batchCapacity, nil)
        let width = (hasDense ? t + 1 : t) * d
        cross = LowRankCrossNetwork(arena: arena, name: "cross", width: width, rank: architecture.crossRank,
                                    layerCount: architecture.crossLayers, batchCapacity: batchCapacity)
        topMLP = MLP(arena: arena, name: "top_mlp", inputSize: width, widths: architecture.topWidths, reluOnLast: false,
                     batchCapacity: batchCapacity, needsInputGradient: true)
        crossInput = backend.makeFloats(batchCapacity * width)
        arena.allocate()

        var generator = SeededGenerator(seed: seed, stream: 1)
        bottomMLP?.initialize(using: &generator)
        cross.initialize(using: &generator)
        topMLP.initialize(using: &generator)
    }

    public var embeddingTables: [EmbeddingTable] { embeddings.localTables }
    public var embeddingCollections: [EmbeddingCollection] { [embeddings] }
    public var logitGradient: DeviceSlice<Float> { topMLP.outputGradient.slice(0, inputs.size) }

    /// Table t's pooled vector goes to slot t + 1 of x0 (slot t without a bottom MLP).
    private var pooledLayout: PooledLayout {
        PooledLayout(firstOffset: bottomMLP == nil ? 0 : architecture.embeddingDimension, tableOffset: architecture.embeddingDimension,
                     rowStride: cross.width)
    }

    public func forward(_ batch: Batch) throws -> DeviceSlice<Float> {
        inputs.load(batch)
        let rows = batch.size, d = architecture.embeddingDimension
        let x0 = crossInput.whole
        if let bottomMLP {
            let bottom = bottomMLP.forward(input: inputs.dense.whole, rows: rows)
            backend.copyRows(from: bottom, sourceStride: d, to: x0, destinationStride: cross.width, rows: rows, columns: d)
        }
        try embeddings.forward(inputs, output: x0, layout: pooledLayout)
        let crossed = cross.forward(input: x0, rows: rows)
        return topMLP.forward(input: crossed, rows: rows).slice(0, rows)
    }

    public func backward(embeddingMode: EmbeddingBackwardMode) throws {
        let rows = inputs.size, d = architecture.embeddingDimension
        let topGradient = topMLP.backward(input: cross.output, rows: rows)!
        onGradientsReady?(topMLP.parameterRange)
        let dx0 = cross.backward(input: crossInput.whole, outputGradient: topGradient, rows: rows)
        onGradientsReady?(cross.parameterRange)
        try embeddings.backward(inputs, outputGradient: dx0, layout: pooledLayout, mode: embeddingMode)
        guard let bottomMLP else { return }
        backend.copyRows(from: dx0, sourceStride: cross.width, to: bottomMLP.outputGradient, destinationStride: d,
                         rows: rows, columns: d)
        bottomMLP.backward(input: inputs.dense.whole, rows: rows)
        onGradientsReady?(bottomMLP.parameterRange)
    }
}
