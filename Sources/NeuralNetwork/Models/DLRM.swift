import Compute

/// Sizes of a DLRM.
public struct DLRMArchitecture: Sendable, Equatable {
    public var denseFeatureCount: Int
    public var tableRowCounts: [Int]
    public var embeddingDimension: Int
    /// Bottom MLP widths after the dense input; the last must equal `embeddingDimension`.
    /// Unused without dense features: then there is no bottom MLP.
    public var bottomWidths: [Int]
    /// Top MLP widths after the interaction; the last must be 1.
    public var topWidths: [Int]
    /// How each table's bag is pooled.
    public var pooling: Pooling

    public init(denseFeatureCount: Int, tableRowCounts: [Int], embeddingDimension: Int,
                bottomWidths: [Int], topWidths: [Int], pooling: Pooling = .sum) {
        self.denseFeatureCount = denseFeatureCount
        self.tableRowCounts = tableRowCounts
        self.embeddingDimension = embeddingDimension
        self.bottomWidths = bottomWidths
        self.topWidths = topWidths
        self.pooling = pooling
    }
}

/// DLRM: bottom MLP over dense features -> dot interaction with the pooled embeddings ->
/// top MLP -> one logit. With no dense features there is no bottom MLP, and the interaction
/// is over the embeddings alone.
public final class DLRM: RecommendationModel, @unchecked Sendable {
    public let architecture: DLRMArchitecture
    public let backend: any ComputeBackend
    public let arena: ParameterArena
    public let inputs: DeviceBatch
    public let bottomMLP: MLP?
    public let embeddings: EmbeddingCollection
    public let interaction: DotInteraction
    public let topMLP: MLP
    public let batchCapacity: Int
    public var onGradientsReady: ((Range<Int>) -> Void)?
    /// Interaction input Z, (B, 1 + T, D): bottom output in slot 0, table t in slot t + 1
    /// (without a bottom MLP, (B, T, D): table t in slot t).
    private let interactionInput: DeviceBuffer<Float>
    private let interactionOutput: DeviceBuffer<Float>
    private let interactionInputGradient: DeviceBuffer<Float>

    /// - Parameters:
    ///   - backend: where the parameters live and the arithmetic runs.
    ///   - makeEmbeddings: where the tables live (default: all in this process).
    public init(_ architecture: DLRMArchitecture, batchCapacity: Int, seed: UInt64, backend: any ComputeBackend = CPUBackend(),
                makeEmbeddings: EmbeddingFactory = LocalEmbeddings.make) throws {
        precondition(architecture.denseFeatureCount == 0 || architecture.bottomWidths.last == architecture.embeddingDimension,
                     "DLRM: bottom MLP must end at the embedding dimension")
        precondition(architecture.topWidths.last == 1, "DLRM: top MLP must end at width 1")
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
        interaction = DotInteraction(backend: backend, featureCount: hasDense ? t + 1 : t, dimension: d, passesFirstSlot: hasDense)
        topMLP = MLP(arena: arena, name: "top_mlp", inputSize: interaction.outputWidth,
                     widths: architecture.topWidths, reluOnLast: false, batchCapacity: batchCapacity,
                     needsInputGradient: true)
        interactionInput = backend.makeFloats(batchCapacity * interaction.inputWidth)
        interactionOutput = backend.makeFloats(batchCapacity * interaction.outputWidth)
        interactionInputGradient = backend.makeFloats(batchCapacity * interaction.inputWidth)
        arena.allocate()

        var generator = SeededGenerator(seed: seed, stream: 1)
        bottomMLP?.initialize(using: &generator)
        topMLP.initialize(using: &generator)
    }

    public var embeddingTables: [EmbeddingTable] { embeddings.localTables }
    public var embeddingCollections: [EmbeddingCollection] { [embeddings] }

    /// Table t's pooled vector goes to slot t + 1 of the interaction input (slot t without a
    /// bottom MLP).
    private var pooledLayout: PooledLayout {
        PooledLayout(firstOffset: bottomMLP == nil ? 0 : architecture.embeddingDimension, tableOffset: architecture.embeddingDimension,
                     rowStride: interaction.inputWidth)
    }
    public var logitGradient: DeviceSlice<Float> { topMLP.outputGradient.slice(0, inputs.size) }

    public func forward(_ batch: Batch) throws -> DeviceSlice<Float> {
        inputs.load(batch)
        let rows = batch.size, d = architecture.embeddingDimension, width = interaction.inputWidth
        let z = interactionInput.whole
        if let bottomMLP {
            let bottom = bottomMLP.forward(input: inputs.dense.whole, rows: rows)
            backend.copyRows(from: bottom, sourceStride: d, to: z, destinationStride: width, rows: rows, columns: d)
        }
        try embeddings.forward(inputs, output: z, layout: pooledLayout)
        interaction.forward(input: z, output: interactionOutput.whole, rows: rows)
        return topMLP.forward(input: interactionOutput.whole, rows: rows).slice(0, rows)
    }

    public func backward(embeddingMode: EmbeddingBackwardMode) throws {
        let rows = inputs.size, d = architecture.embeddingDimension, width = interaction.inputWidth
        let interactionGradient = topMLP.backward(input: interactionOutput.whole, rows: rows)!
        onGradientsReady?(topMLP.parameterRange)
        let dz = interactionInputGradient.whole
        interaction.backward(input: interactionInput.whole, outputGradient: interactionGradient,
                             inputGradient: dz, rows: rows)
        try embeddings.backward(inputs, outputGradient: dz, layout: pooledLayout, mode: embeddingMode)
        guard let bottomMLP else { return }
        backend.copyRows(from: dz, sourceStride: width, to: bottomMLP.outputGradient, destinationStride: d,
                         rows: rows, columns: d)
        bottomMLP.backward(input: inputs.dense.whole, rows: rows)
        onGradientsReady?(bottomMLP.parameterRange)
    }
}
