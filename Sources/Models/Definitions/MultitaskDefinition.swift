import Compute
import NeuralNetwork

/// What the multitask rankers (shared-bottom, MMoE, PLE) share: the concatenated embeddings and
/// dense features feed levels of expert MLPs (`expert_mlp`), mixed per task by softmax gates,
/// then one tower per task (`tower_mlp`, ending at the task's output). Each conforming type says
/// which experts its levels have.
protocol MultitaskDefinition: ModelDefinition {
    var expertMLP: [Int] { get }
    var towerMLP: [Int] { get }
    /// The experts of every level, first to last.
    var levelShapes: [ExpertLevelShape] { get }
    /// The problems of its own counts (experts, levels).
    var countProblems: [ModelProblem] { get }
}

extension MultitaskDefinition {
    /// Every expert's widths, then one tower's (a lower bound: a tower per task).
    public var layerWidths: [Int] {
        let experts = levelShapes.reduce(0) { $0 + $1.sharedExperts + $1.taskExperts }
        return Array(repeating: expertMLP, count: experts).flatMap { $0 } + towerMLP
    }

    public func problems(for shape: ModelShape) -> [ModelProblem] {
        Self.widthProblems(expertMLP, key: "model.expert_mlp") + Self.widthProblems(towerMLP, key: "model.tower_mlp")
            + Self.require(towerMLP.last == 1, "model.tower_mlp", "must end at 1 (each task's tower ends at its output), got \(towerMLP.last ?? 0)")
            + countProblems
    }

    /// The problem of a count key outside `range`.
    static func countProblem(_ value: Int, _ key: String, _ range: ClosedRange<Int>) -> [ModelProblem] {
        require(range.contains(value), "model.\(key)", "must be in \(range.lowerBound)...\(range.upperBound), got \(value)")
    }

    public func makeModel(_ shape: ModelShape, batchCapacity: Int, seed: UInt64, backend: any ComputeBackend,
                          makeEmbeddings: @escaping EmbeddingFactory) throws -> RecommendationModel {
        try MultitaskRanker(MultitaskArchitecture(denseFeatureCount: shape.denseFeatureCount, tableRowCounts: shape.tableRowCounts,
                                                  embeddingDimension: shape.embeddingDimension, taskCount: shape.taskCount,
                                                  levels: levelShapes, expertWidths: expertMLP, towerWidths: towerMLP,
                                                  pooling: shape.pooling),
                            batchCapacity: batchCapacity, seed: seed, backend: backend, makeEmbeddings: makeEmbeddings)
    }

    public func onnxLogit(of model: RecommendationModel, in graph: inout OnnxModelGraph) -> String {
        graph.multitaskRanker(model as! MultitaskRanker)
    }

    /// Bench presets time two tasks.
    public static var benchTaskCount: Int { 2 }

    /// Every expert's and tower's layers, the first level's experts' input gradient included (it
    /// goes to the embeddings); the gates' linear maps and mixing are the rest.
    public func flopsPerSample(of model: RecommendationModel) -> (mlps: Double, other: Double) {
        let ranker = model as! MultitaskRanker
        var mlps = 0.0, other = 0.0
        for level in ranker.levels {
            for expert in level.experts { mlps += trainingFlopsPerSample(of: expert.layers, firstLayerNeedsInputGradient: true) }
            for gate in level.taskGates + [level.sharedGate].compactMap({ $0 }) {
                guard let linear = gate.linear else { continue }
                // The logits (forward, dW, dX) and the mixture (forward, the weights' and experts' gradients).
                other += 6 * Double(linear.inputSize * linear.outputSize) + 6 * Double(gate.expertCount * gate.width)
            }
        }
        for tower in ranker.towers { mlps += trainingFlopsPerSample(of: tower.layers, firstLayerNeedsInputGradient: true) }
        return (mlps, other)
    }
}
