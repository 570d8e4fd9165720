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
    /// Top MLP widths after the cross layers; the last is the number of outputs (one per task).
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
    /// The bottom MLP and the tables, side by side: the cross layers' input x0.
    public let slots: FeatureSlots
    public let cross: LowRankCrossNetwork
    public let topMLP: MLP
    public let batchCapacity: Int

    /// - Parameters:
    ///   - backend: where the parameters live and the arithmetic runs.
    ///   - makeEmbeddings: where the tables live (default: all in this process).
    public init(_ architecture: DCNv2Architecture, batchCapacity: Int, seed: UInt64, backend: any ComputeBackend = CPUBackend(),
                makeEmbeddings: EmbeddingFactory = LocalEmbeddings.make) throws {
        precondition(architecture.denseFeatureCount == 0 || architecture.bottomWidths.last == architecture.embeddingDimension,
                     "DCNv2: bottom MLP must end at the embedding dimension")
        precondition((architecture.topWidths.last ?? 0) >= 1, "DCNv2: top MLP must end at one output per task")
        self.architecture = architecture
        self.batchCapacity = batchCapacity
        self.backend = backend
        arena = ParameterArena(backend: backend)
        inputs = DeviceBatch(backend: backend, capacity: batchCapacity, denseFeatureCount: architecture.denseFeatureCount,
                             tableCount: architecture.tableRowCounts.count, taskCount: architecture.topWidths.last!)
        slots = try FeatureSlots(arena: arena, denseFeatureCount: architecture.denseFeatureCount, bottomWidths: architecture.bottomWidths,
                                 tableRowCounts: architecture.tableRowCounts, dimension: architecture.embeddingDimension,
                                 pooling: architecture.pooling, seed: seed, batchCapacity: batchCapacity, makeEmbeddings: makeEmbeddings)
        cross = LowRankCrossNetwork(arena: arena, name: "cross", width: slots.width, rank: architecture.crossRank,
                                    layerCount: architecture.crossLayers, batchCapacity: batchCapacity)
        topMLP = MLP(arena: arena, name: "top_mlp", inputSize: slots.width, widths: architecture.topWidths, reluOnLast: false,
                     batchCapacity: batchCapacity, needsInputGradient: true)
        arena.allocate()

        var generator = SeededGenerator(seed: seed, stream: 1)
        bottomMLP?.initialize(using: &generator)
        cross.initialize(using: &generator)
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
        let x0 = try slots.forward(inputs)
        let crossed = cross.forward(input: x0, rows: batch.size)
        return topMLP.forward(input: crossed, rows: batch.size).slice(0, batch.size * outputCount)
    }

    /// The top MLP; the cross layers; the tables and the bottom MLP.
    public func backwardStages(embeddingMode: EmbeddingBackwardMode) -> [BackwardStage] {
        let rows = inputs.size
        var topGradient: DeviceSlice<Float>?, crossGradient: DeviceSlice<Float>?
        return [
            {
                topGradient = self.topMLP.backward(input: self.cross.output, rows: rows)!
                return self.topMLP.parameterRange
            },
            {
                crossGradient = self.cross.backward(input: self.slots.values.whole, outputGradient: topGradient!, rows: rows)
                return self.cross.parameterRange
            },
            {
                try self.slots.backward(self.inputs, slotGradient: crossGradient!, mode: embeddingMode)
                return self.bottomMLP?.parameterRange
            },
        ]
    }
}
