import Compute
import NeuralNetwork

/// DeepFM: Wide&Deep plus a factorisation machine's second-order term over the pooled
/// embeddings (`model.architecture: deepfm`).
public struct DeepFMDefinition: ModelDefinition, Equatable {
    public static let name = "deepfm"
    public static let benchName = "deepfm"
    public static let summary = "Wide&Deep plus a factorisation machine's second-order term over the embeddings"
    public static let keys = CodingKeys.allCases.map(\.rawValue)

    /// Widths after the deep input (the embeddings, then the dense features); the last is 1.
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

    public func problems(for shape: ModelShape) -> [ModelProblem] { WideDeepDefinition.deepProblems(deepMLP, shape: shape) }

    public func makeModel(_ shape: ModelShape, batchCapacity: Int, seed: UInt64, backend: any ComputeBackend,
                          makeEmbeddings: @escaping EmbeddingFactory) throws -> RecommendationModel {
        try WideDeepDefinition.makeWideDeep(shape, deepMLP: deepMLP, factorizationMachine: true, batchCapacity: batchCapacity,
                                            seed: seed, backend: backend, makeEmbeddings: makeEmbeddings)
    }

    public func onnxLogit(of model: RecommendationModel, in graph: inout OnnxModelGraph) -> String {
        WideDeepDefinition.wideDeepLogit(of: model as! WideDeep, in: &graph)
    }

    public static func benchPreset(embeddingDimension: Int) -> (definition: Self, idsPerSample: Int) {
        (Self(deepMLP: [512, 256, 1]), 1)
    }

    public func flopsPerSample(of model: RecommendationModel) -> (mlps: Double, other: Double) {
        let wideDeep = model as! WideDeep
        // FM: sums and squares forward, twice that backward.
        let pooledWidth = Double(wideDeep.architecture.tableRowCounts.count * wideDeep.architecture.embeddingDimension)
        return (WideDeepDefinition.mlpFlopsPerSample(of: wideDeep), 3 * 3 * pooledWidth)
    }
}
