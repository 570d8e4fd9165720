import Compute
import NeuralNetwork

/// What every model is built to, from the shared keys of the config's `model` and `data`
/// sections: the dense features, the tables and their width.
public struct ModelShape: Sendable, Equatable {
    public var denseFeatureCount: Int
    /// Rows of every table (a dynamic table's capacity).
    public var tableRowCounts: [Int]
    public var embeddingDimension: Int
    /// How a table's bag of ids is pooled.
    public var pooling: Pooling
    /// Whether any table is dynamic (rows found by raw id).
    public var hasDynamicTables: Bool
    /// Outputs per sample: one per task the data labels.
    public var taskCount: Int

    public init(denseFeatureCount: Int, tableRowCounts: [Int], embeddingDimension: Int, pooling: Pooling = .sum,
                hasDynamicTables: Bool = false, taskCount: Int = 1) {
        self.denseFeatureCount = denseFeatureCount
        self.tableRowCounts = tableRowCounts
        self.embeddingDimension = embeddingDimension
        self.pooling = pooling
        self.hasDynamicTables = hasDynamicTables
        self.taskCount = taskCount
    }

    public var tableCount: Int { tableRowCounts.count }
}

/// A problem with a model's keys: the key ("model.top_mlp", "model.top_mlp[2]") and what is wrong.
public struct ModelProblem: Sendable, Equatable {
    public let key: String
    public let message: String

    public init(key: String, message: String) {
        self.key = key
        self.message = message
    }
}

/// One architecture: everything the program asks of a model, in one type.
///
/// A value holds the architecture's own keys of the config's `model` section (decoded with their
/// defaults; the shared keys — `embedding_dimension`, the tables, `pooling` — are the
/// `ModelShape`). The type names the architecture, checks its keys, builds the network on any
/// backend, writes its ONNX graph and gives `bench` its preset. Adding a model is adding its
/// network (its layers, in NeuralNetwork) and one such type, listed in `ModelRegistry`.
public protocol ModelDefinition: Codable, Sendable {
    /// Its value of `model.architecture`.
    static var name: String { get }
    /// Its value of `bench --model`.
    static var benchName: String { get }
    /// One line: what the model is.
    static var summary: String { get }
    /// Its own keys in the `model` section, in the order `config` prints them.
    static var keys: [String] { get }

    /// Each own key with its value as printed ("[512, 256, 1]"), in the order of `keys`: what
    /// `config` shows, what two configs are compared by, what a checkpoint's model differs in.
    var values: [(key: String, value: String)] { get }

    /// The widths of its MLPs' layers: the activations each sample holds, for the memory check.
    var layerWidths: [Int] { get }

    /// The problems of its keys for a model of `shape`, each naming its key.
    func problems(for shape: ModelShape) -> [ModelProblem]

    /// The network on `backend`, its tables made by `makeEmbeddings`.
    func makeModel(_ shape: ModelShape, batchCapacity: Int, seed: UInt64, backend: any ComputeBackend,
                   makeEmbeddings: @escaping EmbeddingFactory) throws -> RecommendationModel

    /// The inference graph of `model` (one this definition made) up to its logit.
    func onnxLogit(of model: RecommendationModel, in graph: inout OnnxModelGraph) -> String

    /// `bench --model`'s preset for tables of `embeddingDimension` (the reference's "small"
    /// sizes), and the ids each bag holds in its synthetic data.
    static func benchPreset(embeddingDimension: Int) -> (definition: Self, idsPerSample: Int)
    /// The tasks `bench --model`'s synthetic data labels (1 but for the multitask rankers).
    static var benchTaskCount: Int { get }

    /// Floating-point operations per sample of one training step (forward and backward) in the
    /// MLPs' matrix products, and in the rest (an interaction, cross layers, attention), for
    /// `bench`'s ceiling; `model` is one this definition made.
    func flopsPerSample(of model: RecommendationModel) -> (mlps: Double, other: Double)

    /// A retriever's training objective (nil for a ranker, whose outputs are scored per task).
    var retrieval: RetrievalObjective? { get }

    /// Fills the defaults that depend on the shape, or on the data's behaviour-sequence feature
    /// (`sequence`: its table and length), for the keys the config leaves out (`given` holds
    /// those it sets). Most models have none.
    mutating func complete(for shape: ModelShape, sequence: (table: Int, length: Int)?, given: Set<String>)
}

extension ModelDefinition {
    public static var benchTaskCount: Int { 1 }

    public var retrieval: RetrievalObjective? { nil }

    public mutating func complete(for shape: ModelShape, sequence: (table: Int, length: Int)?, given: Set<String>) {}

    /// The problems of an MLP's widths under `key`: at least one layer, each in 1...65536.
    static func widthProblems(_ widths: [Int], key: String) -> [ModelProblem] {
        if widths.isEmpty { return [ModelProblem(key: key, message: "needs at least one layer")] }
        return widths.enumerated().compactMap { index, width in
            (1...65_536).contains(width) ? nil : ModelProblem(key: "\(key)[\(index)]", message: "must be in 1...65536, got \(width)")
        }
    }

    /// The problem of a last MLP that does not end at one output per task.
    static func outputProblems(_ widths: [Int], key: String, shape: ModelShape) -> [ModelProblem] {
        let tasks = shape.taskCount
        return require(widths.last == tasks, key, tasks == 1 ? "must end at 1 (one logit), got \(widths.last ?? 0)"
                           : "must end at \(tasks) (one output per task), got \(widths.last ?? 0)")
    }

    /// A problem under `key` unless `condition` holds.
    static func require(_ condition: Bool, _ key: String, _ message: @autoclosure () -> String) -> [ModelProblem] {
        condition ? [] : [ModelProblem(key: key, message: message())]
    }
}

/// Floating-point operations of linear layers per sample in one training step: forward 2mn per
/// layer, backward 2mn for dW plus 2mn for dX (none for the first layer when its input needs no
/// gradient); bias, ReLU and loss are not counted.
func trainingFlopsPerSample(of layers: [Linear], firstLayerNeedsInputGradient: Bool) -> Double {
    var flops = 0.0
    for (index, layer) in layers.enumerated() {
        let mn = Double(layer.inputSize * layer.outputSize)
        flops += 4 * mn
        if index > 0 || firstLayerNeedsInputGradient { flops += 2 * mn }
    }
    return flops
}
