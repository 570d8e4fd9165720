import Compute
import NeuralNetwork

/// DLRM with DCNv2 low-rank cross layers instead of the dot interaction, as in MLPerf's DLRMv2
/// (`model.architecture: dcnv2`).
public struct DCNv2Definition: ModelDefinition, Equatable {
    public static let name = "dcnv2"
    public static let benchName = "dcnv2"
    public static let summary = "DLRM with DCNv2 low-rank cross layers instead of the dot interaction (MLPerf's DLRMv2)"
    public static let keys = CodingKeys.allCases.map(\.rawValue)

    /// Widths after the dense input; the last is `embedding_dimension`. No bottom MLP without
    /// dense features.
    public var bottomMLP = [512, 256, 64, 16]
    /// The number of cross layers, and the rank of each.
    public var crossLayers = 3
    public var crossRank = 64
    /// Widths after the cross layers; the last is 1.
    public var topMLP = [512, 256, 1]

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case bottomMLP = "bottom_mlp"
        case topMLP = "top_mlp"
        case crossLayers = "cross_layers"
        case crossRank = "cross_rank"
    }

    public init(bottomMLP: [Int] = [512, 256, 64, 16], crossLayers: Int = 3, crossRank: Int = 64, topMLP: [Int] = [512, 256, 1]) {
        self.bottomMLP = bottomMLP
        self.crossLayers = crossLayers
        self.crossRank = crossRank
        self.topMLP = topMLP
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        bottomMLP = try c.decodeIfPresent([Int].self, forKey: .bottomMLP) ?? bottomMLP
        topMLP = try c.decodeIfPresent([Int].self, forKey: .topMLP) ?? topMLP
        crossLayers = try c.decodeIfPresent(Int.self, forKey: .crossLayers) ?? crossLayers
        crossRank = try c.decodeIfPresent(Int.self, forKey: .crossRank) ?? crossRank
    }

    public var values: [(key: String, value: String)] {
        [("bottom_mlp", "\(bottomMLP)"), ("top_mlp", "\(topMLP)"), ("cross_layers", "\(crossLayers)"), ("cross_rank", "\(crossRank)")]
    }

    public var layerWidths: [Int] { bottomMLP + topMLP }

    public func problems(for shape: ModelShape) -> [ModelProblem] {
        DLRMDefinition.bottomAndTopProblems(bottomMLP: bottomMLP, topMLP: topMLP, shape: shape)
            + Self.require((1...64).contains(crossLayers), "model.cross_layers", "must be in 1...64, got \(crossLayers)")
            + Self.require((1...65_536).contains(crossRank), "model.cross_rank", "must be in 1...65536, got \(crossRank)")
    }

    public func makeModel(_ shape: ModelShape, batchCapacity: Int, seed: UInt64, backend: any ComputeBackend,
                          makeEmbeddings: @escaping EmbeddingFactory) throws -> RecommendationModel {
        try DCNv2(DCNv2Architecture(denseFeatureCount: shape.denseFeatureCount, tableRowCounts: shape.tableRowCounts,
                                    embeddingDimension: shape.embeddingDimension, bottomWidths: bottomMLP,
                                    crossLayers: crossLayers, crossRank: crossRank, topWidths: topMLP, pooling: shape.pooling),
                  batchCapacity: batchCapacity, seed: seed, backend: backend, makeEmbeddings: makeEmbeddings)
    }

    public func onnxLogit(of model: RecommendationModel, in graph: inout OnnxModelGraph) -> String {
        let dcn = model as! DCNv2
        var slots = dcn.bottomMLP.map { [graph.mlp($0, name: "bottom_mlp", input: graph.dense)] } ?? []
        slots += graph.embeddingBags(dcn.embeddings)
        let crossed = graph.cross(dcn.cross, name: "cross", input: graph.concat(slots))
        return graph.mlp(dcn.topMLP, name: "top_mlp", input: crossed)
    }

    public static func benchPreset(embeddingDimension: Int) -> (definition: Self, idsPerSample: Int) {
        (Self(bottomMLP: [512, 256, 64, embeddingDimension], crossLayers: 3, crossRank: 64, topMLP: [512, 256, 1]), 1)
    }

    public func flopsPerSample(of model: RecommendationModel) -> (mlps: Double, other: Double) {
        let dcn = model as! DCNv2
        let mlps = (dcn.bottomMLP.map { trainingFlopsPerSample(of: $0.layers, firstLayerNeedsInputGradient: false) } ?? 0)
            + trainingFlopsPerSample(of: dcn.topMLP.layers, firstLayerNeedsInputGradient: true)
        // Per cross layer: two GEMMs of width x rank forward (4nr), four backward (8nr).
        return (mlps, 12 * Double(dcn.cross.width * dcn.cross.rank * dcn.cross.layerCount))
    }
}
