import Compute
import NeuralNetwork

/// Wide&Deep: a wide linear model plus a deep MLP over the concatenated embeddings and dense
/// features (`model.architecture: wide_deep`).
public struct WideDeepDefinition: ModelDefinition, Equatable {
    public static let name = "wide_deep"
    public static let benchName = "wide-deep"
    public static let summary = "wide linear model plus a deep MLP over the concatenated embeddings"
    public static let keys = CodingKeys.allCases.map(\.rawValue)

    /// Widths after the deep input (the embeddings, then the dense features); the last is 1
    /// (one output per task).
    public var deepMLP = [512, 256, 1]

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case deepMLP = "deep_mlp"
    }

    public init(deepMLP: [Int] = [512, 256, 1]) { self.deepMLP = deepMLP }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        deepMLP = try c.decodeIfPresent([Int].self, forKey: .deepMLP) ?? deepMLP
    }

    public var values: [(key: String, value: String)] { [("deep_mlp", "\(deepMLP)")] }

    public var layerWidths: [Int] { deepMLP }

    public func problems(for shape: ModelShape) -> [ModelProblem] { Self.deepProblems(deepMLP, shape: shape) }

    /// The checks of a deep MLP that ends in the outputs (Wide&Deep's, DeepFM's, BST's).
    static func deepProblems(_ deepMLP: [Int], shape: ModelShape) -> [ModelProblem] {
        widthProblems(deepMLP, key: "model.deep_mlp") + outputProblems(deepMLP, key: "model.deep_mlp", shape: shape)
    }

    public func makeModel(_ shape: ModelShape, batchCapacity: Int, seed: UInt64, backend: any ComputeBackend,
                          makeEmbeddings: @escaping EmbeddingFactory) throws -> RecommendationModel {
        try Self.makeWideDeep(shape, deepMLP: deepMLP, factorizationMachine: false, batchCapacity: batchCapacity, seed: seed,
                              backend: backend, makeEmbeddings: makeEmbeddings)
    }

    static func makeWideDeep(_ shape: ModelShape, deepMLP: [Int], factorizationMachine: Bool, batchCapacity: Int, seed: UInt64,
                             backend: any ComputeBackend, makeEmbeddings: @escaping EmbeddingFactory) throws -> WideDeep {
        try WideDeep(WideDeepArchitecture(denseFeatureCount: shape.denseFeatureCount, tableRowCounts: shape.tableRowCounts,
                                          embeddingDimension: shape.embeddingDimension, deepWidths: deepMLP,
                                          factorizationMachine: factorizationMachine, pooling: shape.pooling),
                     batchCapacity: batchCapacity, seed: seed, backend: backend, makeEmbeddings: makeEmbeddings)
    }

    public func onnxLogit(of model: RecommendationModel, in graph: inout OnnxModelGraph) -> String {
        Self.wideDeepLogit(of: model as! WideDeep, in: &graph)
    }

    /// The deep MLP plus the wide part, plus DeepFM's second-order term when the model has it.
    static func wideDeepLogit(of wideDeep: WideDeep, in graph: inout OnnxModelGraph) -> String {
        let pooled = graph.embeddingBags(wideDeep.embeddings)
        let hasDense = graph.denseFeatureCount > 0
        let deep = graph.mlp(wideDeep.deepMLP, name: "deep_mlp", input: graph.concat(pooled + (hasDense ? [graph.dense] : [])))
        let widePooled = graph.embeddingBags(wideDeep.wide.embeddings)
        var wide = widePooled.count == 1 ? widePooled[0] : graph.sum(widePooled)
        wide = graph.add(wide, graph.linear(wideDeep.wide.dense, name: "wide/dense", input: hasDense ? graph.dense : nil,
                                            rowsLike: pooled[0]))
        var sum = graph.add(deep, wide)
        if wideDeep.architecture.factorizationMachine {
            sum = graph.add(sum, graph.factorizationMachine(pooled, dimension: wideDeep.architecture.embeddingDimension))
        }
        return sum
    }

    public static func benchPreset(embeddingDimension: Int) -> (definition: Self, idsPerSample: Int) {
        (Self(deepMLP: [512, 256, 1]), 1)
    }

    public func flopsPerSample(of model: RecommendationModel) -> (mlps: Double, other: Double) {
        (Self.mlpFlopsPerSample(of: model as! WideDeep), 0)
    }

    /// The deep MLP (its input's gradient goes to the embeddings) and the wide part's dense layer.
    static func mlpFlopsPerSample(of wideDeep: WideDeep) -> Double {
        trainingFlopsPerSample(of: wideDeep.deepMLP.layers, firstLayerNeedsInputGradient: true)
            + trainingFlopsPerSample(of: [wideDeep.wide.dense], firstLayerNeedsInputGradient: false)
    }
}
