import Compute

/// Sizes of a DLRM.
public struct DLRMArchitecture: Sendable, Equatable {
    public var denseFeatureCount: Int
    public var tableRowCounts: [Int]
    public var embeddingDimension: Int
    /// Bottom MLP widths after the dense input; the last must equal `embeddingDimension`.
    /// Unused without dense features: then there is no bottom MLP.
    public var bottomWidths: [Int]
    /// Top MLP widths after the interaction; the last is the number of outputs (one per task).
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
    /// The bottom MLP and the tables, side by side: the interaction's input Z.
    public let slots: FeatureSlots
    public let interaction: DotInteraction
    public let topMLP: MLP
    public let batchCapacity: Int
    private let interactionOutput: DeviceBuffer<Float>
    private let interactionInputGradient: DeviceBuffer<Float>

    /// - Parameters:
    ///   - backend: where the parameters live and the arithmetic runs.
    ///   - makeEmbeddings: where the tables live (default: all in this process).
    public init(_ architecture: DLRMArchitecture, batchCapacity: Int, seed: UInt64, backend: any ComputeBackend = CPUBackend(),
                makeEmbeddings: EmbeddingFactory = LocalEmbeddings.make) throws {
        precondition(architecture.denseFeatureCount == 0 || architecture.bottomWidths.last == architecture.embeddingDimension,
                     "DLRM: bottom MLP must end at the embedding dimension")
        precondition((architecture.topWidths.last ?? 0) >= 1, "DLRM: top MLP must end at one output per task")
        self.architecture = architecture
        self.batchCapacity = batchCapacity
        self.backend = backend
        arena = ParameterArena(backend: backend)
        inputs = DeviceBatch(backend: backend, capacity: batchCapacity, denseFeatureCount: architecture.denseFeatureCount,
                             tableCount: architecture.tableRowCounts.count, taskCount: architecture.topWidths.last!)
        slots = try FeatureSlots(arena: arena, denseFeatureCount: architecture.denseFeatureCount, bottomWidths: architecture.bottomWidths,
                                 tableRowCounts: architecture.tableRowCounts, dimension: architecture.embeddingDimension,
                                 pooling: architecture.pooling, seed: seed, batchCapacity: batchCapacity, makeEmbeddings: makeEmbeddings)
        interaction = DotInteraction(backend: backend, featureCount: slots.slotCount, dimension: architecture.embeddingDimension,
                                     passesFirstSlot: slots.bottomMLP != nil)
        topMLP = MLP(arena: arena, name: "top_mlp", inputSize: interaction.outputWidth,
                     widths: architecture.topWidths, reluOnLast: false, batchCapacity: batchCapacity,
                     needsInputGradient: true)
        interactionOutput = backend.makeFloats(batchCapacity * interaction.outputWidth)
        interactionInputGradient = backend.makeFloats(batchCapacity * interaction.inputWidth)
        arena.allocate()

        var generator = SeededGenerator(seed: seed, stream: 1)
        bottomMLP?.initialize(using: &generator)
        topMLP.initialize(using: &generator)
    }

    public var bottomMLP: MLP? { slots.bottomMLP }
    public var embeddings: EmbeddingCollection { slots.embeddings }
    public var embeddingTables: [EmbeddingTable] { embeddings.localTables }
    public var embeddingCollections: [EmbeddingCollection] { [embeddings] }
    public var outputCount: Int { topMLP.outputSize }
    public var logitGradient: DeviceSlice<Float> { topMLP.outputGradient.slice(0, inputs.size * outputCount) }

    public func forward(_ batch: Batch) throws -> DeviceSlice<Float> {
        inputs.load(batch)
        let z = try slots.forward(inputs)
        interaction.forward(input: z, output: interactionOutput.whole, rows: batch.size)
        return topMLP.forward(input: interactionOutput.whole, rows: batch.size).slice(0, batch.size * outputCount)
    }

    /// The top MLP; then the interaction, the tables and the bottom MLP.
    public func backwardStages(embeddingMode: EmbeddingBackwardMode) -> [BackwardStage] {
        let rows = inputs.size
        var interactionGradient: DeviceSlice<Float>?
        return [
            {
                interactionGradient = self.topMLP.backward(input: self.interactionOutput.whole, rows: rows)!
                return self.topMLP.parameterRange
            },
            {
                let dz = self.interactionInputGradient.whole
                self.interaction.backward(input: self.slots.values.whole, outputGradient: interactionGradient!, inputGradient: dz,
                                          rows: rows)
                try self.slots.backward(self.inputs, slotGradient: dz, mode: embeddingMode)
                return self.bottomMLP?.parameterRange
            },
        ]
    }
}
