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
    public let embeddings: EmbeddingCollection
    public let deepMLP: MLP
    public let wide: WideLinear
    public let batchCapacity: Int
    public var onGradientsReady: ((Range<Int>) -> Void)?
    /// Deep input, (B, T * D + denseFeatureCount).
    private let deepInput: FloatBuffer
    private let logits: FloatBuffer

    /// - Parameter makeEmbeddings: where the tables live (default: all in this process).
    public init(_ architecture: WideDeepArchitecture, batchCapacity: Int, seed: UInt64,
                makeEmbeddings: EmbeddingFactory = LocalEmbeddings.make) throws {
        precondition(architecture.deepWidths.last == 1, "WideDeep: deep MLP must end at width 1")
        self.architecture = architecture
        self.batchCapacity = batchCapacity
        let d = architecture.embeddingDimension, t = architecture.tableRowCounts.count
        embeddings = try makeEmbeddings(EmbeddingSpecification(name: "embeddings", tableRowCounts: architecture.tableRowCounts,
                                                               dimension: d, seed: seed), batchCapacity)
        let deepInputWidth = t * d + architecture.denseFeatureCount
        deepMLP = MLP(arena: arena, name: "deep_mlp", inputSize: deepInputWidth, widths: architecture.deepWidths,
                      reluOnLast: false, batchCapacity: batchCapacity, needsInputGradient: true)
        wide = try WideLinear(arena: arena, name: "wide", denseFeatureCount: architecture.denseFeatureCount,
                              tableRowCounts: architecture.tableRowCounts, batchCapacity: batchCapacity,
                              makeEmbeddings: makeEmbeddings)
        embeddingTables = embeddings.localTables + wide.embeddings.localTables
        deepInput = FloatBuffer(count: batchCapacity * deepInputWidth)
        logits = FloatBuffer(count: batchCapacity)
        arena.allocate()

        var generator = SeededGenerator(seed: seed, stream: 1)
        deepMLP.initialize(using: &generator)
    }

    public let embeddingTables: [EmbeddingTable]
    public var embeddingCollections: [EmbeddingCollection] { [embeddings, wide.embeddings] }
    public var logitGradient: UnsafeMutablePointer<Float> { deepMLP.outputGradient }
    private var deepInputWidth: Int { deepMLP.inputSize }

    /// Table t's pooled vector goes to columns t*D ..< (t+1)*D of the deep input.
    private var pooledLayout: PooledLayout {
        PooledLayout(firstOffset: 0, tableOffset: architecture.embeddingDimension, rowStride: deepInputWidth)
    }

    public func forward(_ batch: Batch) throws -> UnsafeMutablePointer<Float> {
        let rows = batch.size, d = architecture.embeddingDimension, width = deepInputWidth
        let x = deepInput.base
        try embeddings.forward(batch, output: x, layout: pooledLayout)
        let denseCount = architecture.denseFeatureCount
        Kernels.copyRows(from: batch.dense.base, sourceStride: denseCount, to: x + architecture.tableRowCounts.count * d,
                         destinationStride: width, rows: rows, columns: denseCount)
        let deep = deepMLP.forward(input: x, rows: rows)
        let wideLogits = try wide.forward(batch)
        for b in 0..<rows { logits[b] = deep[b] + wideLogits[b] }
        return logits.base
    }

    public func backward(_ batch: Batch, embeddingMode: EmbeddingBackwardMode) throws {
        let rows = batch.size, d = architecture.embeddingDimension, width = deepInputWidth
        // The logit is a sum, so both parts receive the same dL/d(logit); the wide part reads it
        // before the deep backward masks nothing in it (the last deep layer has no ReLU).
        try wide.backward(batch, logitGradient: deepMLP.outputGradient, embeddingMode: embeddingMode)
        onGradientsReady?(wide.dense.parameterRange)
        let dx = deepMLP.backward(input: deepInput.base, rows: rows)!
        onGradientsReady?(deepMLP.parameterRange)
        try embeddings.backward(batch, outputGradient: dx, layout: pooledLayout, mode: embeddingMode)
    }
}
