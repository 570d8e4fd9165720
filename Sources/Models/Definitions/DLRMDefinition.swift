import Compute
import NeuralNetwork

/// DLRM: bottom MLP over the dense features, dot interaction with the pooled embeddings, top
/// MLP to one logit (`model.architecture: dlrm`).
public struct DLRMDefinition: ModelDefinition, Equatable {
    public static let name = "dlrm"
    public static let benchName = "dlrm"
    public static let summary = "bottom MLP, dot interaction with the embeddings, top MLP"
    public static let keys = CodingKeys.allCases.map(\.rawValue)

    /// Widths after the dense input; the last is `embedding_dimension`. No bottom MLP without
    /// dense features.
    public var bottomMLP = [512, 256, 64, 16]
    /// Widths after the interaction; the last is 1 (one output per task).
    public var topMLP = [512, 256, 1]

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case bottomMLP = "bottom_mlp"
        case topMLP = "top_mlp"
    }

    public init(bottomMLP: [Int] = [512, 256, 64, 16], topMLP: [Int] = [512, 256, 1]) {
        self.bottomMLP = bottomMLP
        self.topMLP = topMLP
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        bottomMLP = try c.decodeIfPresent([Int].self, forKey: .bottomMLP) ?? bottomMLP
        topMLP = try c.decodeIfPresent([Int].self, forKey: .topMLP) ?? topMLP
    }

    public var values: [(key: String, value: String)] { [("bottom_mlp", "\(bottomMLP)"), ("top_mlp", "\(topMLP)")] }

    public var layerWidths: [Int] { bottomMLP + topMLP }

    public func problems(for shape: ModelShape) -> [ModelProblem] {
        Self.bottomAndTopProblems(bottomMLP: bottomMLP, topMLP: topMLP, shape: shape)
            + Self.require(shape.denseFeatureCount > 0 || shape.tableCount >= 2, "model.table_count",
                           "DLRM without dense features needs at least 2 tables (their dot products are its input)")
    }

    /// The checks of a bottom and a top MLP (DLRM's and DCNv2's).
    static func bottomAndTopProblems(bottomMLP: [Int], topMLP: [Int], shape: ModelShape) -> [ModelProblem] {
        var problems = widthProblems(topMLP, key: "model.top_mlp")
        if shape.denseFeatureCount > 0 {  // without dense features there is no bottom MLP
            problems += widthProblems(bottomMLP, key: "model.bottom_mlp")
            problems += require(bottomMLP.last == shape.embeddingDimension, "model.bottom_mlp",
                                "must end at model.embedding_dimension (\(shape.embeddingDimension)), got \(bottomMLP.last ?? 0)")
        }
        return problems + outputProblems(topMLP, key: "model.top_mlp", shape: shape)
    }

    func architecture(_ shape: ModelShape) -> DLRMArchitecture {
        DLRMArchitecture(denseFeatureCount: shape.denseFeatureCount, tableRowCounts: shape.tableRowCounts,
                         embeddingDimension: shape.embeddingDimension, bottomWidths: bottomMLP, topWidths: topMLP,
                         pooling: shape.pooling)
    }

    public func makeModel(_ shape: ModelShape, batchCapacity: Int, seed: UInt64, backend: any ComputeBackend,
                          makeEmbeddings: @escaping EmbeddingFactory) throws -> RecommendationModel {
        try DLRM(architecture(shape), batchCapacity: batchCapacity, seed: seed, backend: backend, makeEmbeddings: makeEmbeddings)
    }

    public func onnxLogit(of model: RecommendationModel, in graph: inout OnnxModelGraph) -> String {
        let dlrm = model as! DLRM
        var slots = dlrm.bottomMLP.map { [graph.mlp($0, name: "bottom_mlp", input: graph.dense)] } ?? []
        slots += graph.embeddingBags(dlrm.embeddings)
        return graph.mlp(dlrm.topMLP, name: "top_mlp", input: graph.dotInteraction(dlrm.interaction, slots: slots))
    }

    public static func benchPreset(embeddingDimension: Int) -> (definition: Self, idsPerSample: Int) {
        (Self(bottomMLP: [512, 256, 64, embeddingDimension], topMLP: [512, 256, 1]), 1)
    }

    public func flopsPerSample(of model: RecommendationModel) -> (mlps: Double, other: Double) {
        let dlrm = model as! DLRM
        let mlps = (dlrm.bottomMLP.map { trainingFlopsPerSample(of: $0.layers, firstLayerNeedsInputGradient: false) } ?? 0)
            + trainingFlopsPerSample(of: dlrm.topMLP.layers, firstLayerNeedsInputGradient: true)
        // The interaction: forward 2 f² D, backward twice that.
        let features = Double(dlrm.interaction.featureCount)
        return (mlps, 3 * 2 * features * features * Double(dlrm.architecture.embeddingDimension))
    }
}
