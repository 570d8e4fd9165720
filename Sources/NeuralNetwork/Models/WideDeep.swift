import Compute

/// Sizes of a Wide&Deep model.
public struct WideDeepArchitecture: Sendable, Equatable {
    public var denseFeatureCount: Int
    public var tableRowCounts: [Int]
    public var embeddingDimension: Int
    /// Deep MLP widths after its input (T * D embeddings then the dense features); last is 1.
    public var deepWidths: [Int]

    public init(denseFeatureCount: Int, tableRowCounts: [Int], embeddingDimension: Int, deepWidths: [Int]) {
        self.denseFeatureCount = denseFeatureCount
        self.tableRowCounts = tableRowCounts
        self.embeddingDimension = embeddingDimension
        self.deepWidths = deepWidths
    }
}

/// Wide&Deep: logit = wide linear (ids and dense features) + deep MLP over the concatenated
/// embeddings and dense features.
public final class WideDeep: RecommendationModel, @unchecked Sendable {
    public let architecture: WideDeepArchitecture
    public let arena = ParameterArena()
    public let tables: [EmbeddingTable]
    public let deepMLP: MLP
    public let wide: WideLinear
    public let batchCapacity: Int
    /// Deep input, (B, T * D + denseFeatureCount).
    private let deepInput: FloatBuffer
    private let logits: FloatBuffer

    public init(_ architecture: WideDeepArchitecture, batchCapacity: Int, seed: UInt64) {
        precondition(architecture.deepWidths.last == 1, "WideDeep: deep MLP must end at width 1")
        self.architecture = architecture
        self.batchCapacity = batchCapacity
        let d = architecture.embeddingDimension, t = architecture.tableRowCounts.count
        tables = architecture.tableRowCounts.enumerated().map { index, rows in
            EmbeddingTable(name: "embeddings/table\(index)", rowCount: rows, dimension: d,
                           batchCapacity: batchCapacity)
        }
        let deepInputWidth = t * d + architecture.denseFeatureCount
        deepMLP = MLP(arena: arena, name: "deep_mlp", inputSize: deepInputWidth, widths: architecture.deepWidths,
                      reluOnLast: false, batchCapacity: batchCapacity, needsInputGradient: true)
        wide = WideLinear(arena: arena, name: "wide", denseFeatureCount: architecture.denseFeatureCount,
                          tableRowCounts: architecture.tableRowCounts, batchCapacity: batchCapacity)
        embeddingTables = tables + wide.tables
        deepInput = FloatBuffer(count: batchCapacity * deepInputWidth)
        logits = FloatBuffer(count: batchCapacity)
        arena.allocate()

        var generator = SeededGenerator(seed: seed, stream: 1)
        deepMLP.initialize(using: &generator)
        for table in tables { table.initializeUniform(using: &generator) }
    }

    public let embeddingTables: [EmbeddingTable]
    public var logitGradient: UnsafeMutablePointer<Float> { deepMLP.outputGradient }
    private var deepInputWidth: Int { deepMLP.inputSize }

    public func forward(_ batch: Batch) -> UnsafeMutablePointer<Float> {
        let rows = batch.size, d = architecture.embeddingDimension, width = deepInputWidth
        let x = deepInput.base
        for (t, table) in tables.enumerated() {
            table.forward(batch.sparse[t], rows: rows, output: x + t * d, outputStride: width)
        }
        let denseCount = architecture.denseFeatureCount
        Kernels.copyRows(from: batch.dense.base, sourceStride: denseCount, to: x + tables.count * d,
                         destinationStride: width, rows: rows, columns: denseCount)
        let deep = deepMLP.forward(input: x, rows: rows)
        let wideLogits = wide.forward(batch)
        for b in 0..<rows { logits[b] = deep[b] + wideLogits[b] }
        return logits.base
    }

    public func backward(_ batch: Batch, embeddingMode: EmbeddingBackwardMode) {
        let rows = batch.size, d = architecture.embeddingDimension, width = deepInputWidth
        // The logit is a sum, so both parts receive the same dL/d(logit); the wide part reads it
        // before the deep backward masks nothing in it (the last deep layer has no ReLU).
        wide.backward(batch, logitGradient: deepMLP.outputGradient, embeddingMode: embeddingMode)
        let dx = deepMLP.backward(input: deepInput.base, rows: rows)!
        for (t, table) in tables.enumerated() {
            table.backward(batch.sparse[t], rows: rows, outputGradient: dx + t * d, gradientStride: width,
                           mode: embeddingMode)
        }
    }
}
