import Compute

/// Sizes of a DLRM.
public struct DLRMArchitecture: Sendable, Equatable {
    public var denseFeatureCount: Int
    public var tableRowCounts: [Int]
    public var embeddingDimension: Int
    /// Bottom MLP widths after the dense input; the last must equal `embeddingDimension`.
    public var bottomWidths: [Int]
    /// Top MLP widths after the interaction; the last must be 1.
    public var topWidths: [Int]

    public init(denseFeatureCount: Int, tableRowCounts: [Int], embeddingDimension: Int,
                bottomWidths: [Int], topWidths: [Int]) {
        self.denseFeatureCount = denseFeatureCount
        self.tableRowCounts = tableRowCounts
        self.embeddingDimension = embeddingDimension
        self.bottomWidths = bottomWidths
        self.topWidths = topWidths
    }
}

/// DLRM: bottom MLP over dense features -> dot interaction with the pooled embeddings ->
/// top MLP -> one logit.
public final class DLRM: RecommendationModel, @unchecked Sendable {
    public let architecture: DLRMArchitecture
    public let arena = ParameterArena()
    public let bottomMLP: MLP
    public let tables: [EmbeddingTable]
    public let interaction: DotInteraction
    public let topMLP: MLP
    public let batchCapacity: Int
    /// Interaction input Z, (B, 1 + T, D): bottom output in slot 0, table t in slot t + 1.
    private let interactionInput: FloatBuffer
    private let interactionOutput: FloatBuffer
    private let interactionInputGradient: FloatBuffer

    public init(_ architecture: DLRMArchitecture, batchCapacity: Int, seed: UInt64) {
        precondition(architecture.bottomWidths.last == architecture.embeddingDimension,
                     "DLRM: bottom MLP must end at the embedding dimension")
        precondition(architecture.topWidths.last == 1, "DLRM: top MLP must end at width 1")
        self.architecture = architecture
        self.batchCapacity = batchCapacity
        let d = architecture.embeddingDimension, t = architecture.tableRowCounts.count
        bottomMLP = MLP(arena: arena, name: "bottom_mlp", inputSize: architecture.denseFeatureCount,
                        widths: architecture.bottomWidths, reluOnLast: true, batchCapacity: batchCapacity,
                        needsInputGradient: false)
        tables = architecture.tableRowCounts.enumerated().map { index, rows in
            EmbeddingTable(name: "embeddings/table\(index)", rowCount: rows, dimension: d,
                           batchCapacity: batchCapacity)
        }
        interaction = DotInteraction(featureCount: t + 1, dimension: d)
        topMLP = MLP(arena: arena, name: "top_mlp", inputSize: interaction.outputWidth,
                     widths: architecture.topWidths, reluOnLast: false, batchCapacity: batchCapacity,
                     needsInputGradient: true)
        interactionInput = FloatBuffer(count: batchCapacity * interaction.inputWidth)
        interactionOutput = FloatBuffer(count: batchCapacity * interaction.outputWidth)
        interactionInputGradient = FloatBuffer(count: batchCapacity * interaction.inputWidth)
        arena.allocate()

        var generator = SeededGenerator(seed: seed, stream: 1)
        bottomMLP.initialize(using: &generator)
        topMLP.initialize(using: &generator)
        for table in tables { table.initializeUniform(using: &generator) }
    }

    public var embeddingTables: [EmbeddingTable] { tables }
    public var logitGradient: UnsafeMutablePointer<Float> { topMLP.outputGradient }

    public func forward(_ batch: Batch) -> UnsafeMutablePointer<Float> {
        let rows = batch.size, d = architecture.embeddingDimension, width = interaction.inputWidth
        let z = interactionInput.base
        let bottom = bottomMLP.forward(input: batch.dense.base, rows: rows)
        Kernels.copyRows(from: bottom, sourceStride: d, to: z, destinationStride: width, rows: rows, columns: d)
        for (t, table) in tables.enumerated() {
            table.forward(batch.sparse[t], rows: rows, output: z + (t + 1) * d, outputStride: width)
        }
        interaction.forward(input: z, output: interactionOutput.base, rows: rows)
        return topMLP.forward(input: interactionOutput.base, rows: rows)
    }

    public func backward(_ batch: Batch, embeddingMode: EmbeddingBackwardMode) {
        let rows = batch.size, d = architecture.embeddingDimension, width = interaction.inputWidth
        let interactionGradient = topMLP.backward(input: interactionOutput.base, rows: rows)!
        let dz = interactionInputGradient.base
        interaction.backward(input: interactionInput.base, outputGradient: interactionGradient,
                             inputGradient: dz, rows: rows)
        for (t, table) in tables.enumerated() {
            table.backward(batch.sparse[t], rows: rows, outputGradient: dz + (t + 1) * d, gradientStride: width,
                           mode: embeddingMode)
        }
        Kernels.copyRows(from: dz, sourceStride: width, to: bottomMLP.outputGradient, destinationStride: d,
                         rows: rows, columns: d)
        bottomMLP.backward(input: batch.dense.base, rows: rows)
    }
}
