import Compute
import NeuralNetwork

/// Behaviour-sequence transformer: transformer blocks over a sequence table's items, then an
/// MLP over the candidate's output and the other features (`model.architecture: bst`).
public struct BSTDefinition: ModelDefinition, Equatable {
    public static let name = "bst"
    public static let benchName = "bst"
    public static let summary = "behaviour-sequence transformer: transformer blocks over a sequence table's items, then an MLP"
    public static let keys = CodingKeys.allCases.map(\.rawValue)

    /// The table holding the behaviour sequences: a delimited schema's `history_of` feature,
    /// else the last table (filled by `complete` when the config does not say).
    public var sequenceTable: Int?
    /// Positions the transformer sees: the candidate and earlier items (the schema's history
    /// length when it has one).
    public var sequenceLength = 20
    public var attentionHeads = 2
    public var transformerBlocks = 1
    /// The blocks' feed-forward width (4 × `embedding_dimension` unless given).
    public var feedForwardWidth: Int?
    /// Widths after the MLP's input; the last is 1.
    public var deepMLP = [512, 256, 1]

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case deepMLP = "deep_mlp"
        case sequenceTable = "sequence_table"
        case sequenceLength = "sequence_length"
        case attentionHeads = "attention_heads"
        case transformerBlocks = "transformer_blocks"
        case feedForwardWidth = "feed_forward_width"
    }

    public init(sequenceTable: Int? = nil, sequenceLength: Int = 20, attentionHeads: Int = 2, transformerBlocks: Int = 1,
                feedForwardWidth: Int? = nil, deepMLP: [Int] = [512, 256, 1]) {
        self.sequenceTable = sequenceTable
        self.sequenceLength = sequenceLength
        self.attentionHeads = attentionHeads
        self.transformerBlocks = transformerBlocks
        self.feedForwardWidth = feedForwardWidth
        self.deepMLP = deepMLP
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        deepMLP = try c.decodeIfPresent([Int].self, forKey: .deepMLP) ?? deepMLP
        sequenceTable = try c.decodeIfPresent(Int.self, forKey: .sequenceTable)
        sequenceLength = try c.decodeIfPresent(Int.self, forKey: .sequenceLength) ?? sequenceLength
        attentionHeads = try c.decodeIfPresent(Int.self, forKey: .attentionHeads) ?? attentionHeads
        transformerBlocks = try c.decodeIfPresent(Int.self, forKey: .transformerBlocks) ?? transformerBlocks
        feedForwardWidth = try c.decodeIfPresent(Int.self, forKey: .feedForwardWidth)
    }

    public var values: [(key: String, value: String)] {
        [("deep_mlp", "\(deepMLP)"), ("sequence_table", sequenceTable.map { "\($0)" } ?? "the last table"),
         ("sequence_length", "\(sequenceLength)"), ("attention_heads", "\(attentionHeads)"),
         ("transformer_blocks", "\(transformerBlocks)"),
         ("feed_forward_width", feedForwardWidth.map { "\($0)" } ?? "4 x embedding_dimension")]
    }

    public mutating func complete(for shape: ModelShape, sequence: (table: Int, length: Int)?, given: Set<String>) {
        if !given.contains("sequence_table") { sequenceTable = sequence?.table ?? max(shape.tableCount - 1, 0) }
        if !given.contains("sequence_length"), let sequence { sequenceLength = sequence.length }
        if feedForwardWidth == nil { feedForwardWidth = 4 * shape.embeddingDimension }
    }

    public var layerWidths: [Int] { deepMLP }

    public func problems(for shape: ModelShape) -> [ModelProblem] {
        let table = sequenceTable ?? shape.tableCount - 1, d = shape.embeddingDimension
        let feedForward = feedForwardWidth ?? 4 * d
        return WideDeepDefinition.deepProblems(deepMLP, shape: shape)
            + Self.require(!shape.hasDynamicTables, "model.table_rows",
                           "dynamic tables are not supported by bst (its sequence table is fixed)")
            + Self.require(shape.tableRowCounts.indices.contains(table), "model.sequence_table",
                           "must name a table (0...\(shape.tableCount - 1)), got \(table)")
            + Self.require((1...1024).contains(sequenceLength), "model.sequence_length", "must be in 1...1024, got \(sequenceLength)")
            + Self.require(attentionHeads >= 1 && d % attentionHeads == 0, "model.attention_heads",
                           "must divide model.embedding_dimension (\(d)), got \(attentionHeads)")
            + Self.require((1...64).contains(transformerBlocks), "model.transformer_blocks",
                           "must be in 1...64, got \(transformerBlocks)")
            + Self.require((1...65_536).contains(feedForward), "model.feed_forward_width", "must be in 1...65536, got \(feedForward)")
    }

    public func makeModel(_ shape: ModelShape, batchCapacity: Int, seed: UInt64, backend: any ComputeBackend,
                          makeEmbeddings: @escaping EmbeddingFactory) throws -> RecommendationModel {
        let d = shape.embeddingDimension
        return try BST(BSTArchitecture(denseFeatureCount: shape.denseFeatureCount, tableRowCounts: shape.tableRowCounts,
                                       embeddingDimension: d, sequenceTable: sequenceTable ?? shape.tableCount - 1,
                                       sequenceLength: sequenceLength, heads: attentionHeads, blocks: transformerBlocks,
                                       feedForwardWidth: feedForwardWidth ?? 4 * d, deepWidths: deepMLP, pooling: shape.pooling),
                       batchCapacity: batchCapacity, seed: seed, backend: backend, makeEmbeddings: makeEmbeddings)
    }

    public func onnxLogit(of model: RecommendationModel, in graph: inout OnnxModelGraph) -> String {
        let bst = model as! BST, a = bst.architecture
        var inputs = graph.embeddingBags(bst.embeddings, inputTables: a.contextTables)
        let sequence = graph.sequence(bst.sequenceEmbeddings.localTables[0], tableIndex: a.sequenceTable, length: a.sequenceLength,
                                      positions: bst.positionEmbeddings.toArray())
        inputs.append(graph.transformer(bst.encoder, name: "transformer", input: sequence.x, keyMask: sequence.keyMask))
        if graph.denseFeatureCount > 0 { inputs.append(graph.dense) }
        return graph.mlp(bst.deepMLP, name: "deep_mlp", input: graph.concat(inputs))
    }

    /// One transformer block over 20 positions; every bag holds 20 ids (the last table's are the
    /// sequences, the others pool theirs).
    public static func benchPreset(embeddingDimension: Int) -> (definition: Self, idsPerSample: Int) {
        (Self(sequenceLength: 20, attentionHeads: 2, transformerBlocks: 1, feedForwardWidth: 4 * embeddingDimension,
              deepMLP: [512, 256, 1]), 20)
    }

    public func flopsPerSample(of model: RecommendationModel) -> (mlps: Double, other: Double) {
        let bst = model as! BST, a = bst.architecture
        let mlps = trainingFlopsPerSample(of: bst.deepMLP.layers, firstLayerNeedsInputGradient: true)
        // Per block and position: four D x D projections, the feed-forward pair and attention
        // over the positions; backward twice the forward.
        let p = Double(a.sequenceLength), width = Double(a.embeddingDimension), hidden = Double(a.feedForwardWidth)
        return (mlps, Double(a.blocks) * 3 * 2 * p * (4 * width * width + 2 * width * hidden + 2 * p * width))
    }
}
