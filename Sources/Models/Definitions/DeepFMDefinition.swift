import Compute
import NeuralNetwork

/// DeepFM: Wide&Deep plus a factorisation machine's second-order term over the pooled
/// embeddings (`model.architecture: deepfm`). Its keys are Wide&Deep's (`deep_mlp`).
public struct DeepFMDefinition: ModelDefinition, Equatable {
    public static let name = "deepfm"
    public static let benchName = "deepfm"
    public static let summary = "Wide&Deep plus a factorisation machine's second-order term over the embeddings"
    public static let keys = WideDeepDefinition.keys

    /// The Wide&Deep network the FM term is added to.
    public var wideDeep: WideDeepDefinition

    public init(deepMLP: [Int] = [512, 256, 1]) { wideDeep = WideDeepDefinition(deepMLP: deepMLP) }

    public init(from decoder: Decoder) throws { wideDeep = try WideDeepDefinition(from: decoder) }

    public func encode(to encoder: Encoder) throws { try wideDeep.encode(to: encoder) }

    public var values: [(key: String, value: String)] { wideDeep.values }

    public var layerWidths: [Int] { wideDeep.layerWidths }

    public func problems(for shape: ModelShape) -> [ModelProblem] { wideDeep.problems(for: shape) }

    public func makeModel(_ shape: ModelShape, batchCapacity: Int, seed: UInt64, backend: any ComputeBackend,
                          makeEmbeddings: @escaping EmbeddingFactory) throws -> RecommendationModel {
        try WideDeepDefinition.makeWideDeep(shape, deepMLP: wideDeep.deepMLP, factorizationMachine: true, batchCapacity: batchCapacity,
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
