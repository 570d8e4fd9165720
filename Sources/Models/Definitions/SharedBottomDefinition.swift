import NeuralNetwork

/// A shared-bottom multitask ranker: one MLP over the concatenated embeddings and dense
/// features, shared by every task, then one tower per task (`model.architecture: shared_bottom`).
public struct SharedBottomDefinition: MultitaskDefinition, Equatable {
    public static let name = "shared_bottom"
    public static let benchName = "shared_bottom"
    public static let summary = "multitask: one MLP shared by every task, then a tower per task"
    public static let keys = CodingKeys.allCases.map(\.rawValue)

    /// The shared MLP's widths (each layer followed by ReLU).
    public var expertMLP = [256, 128]
    /// Each task's tower after the shared MLP; the last is 1.
    public var towerMLP = [64, 1]

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case expertMLP = "expert_mlp"
        case towerMLP = "tower_mlp"
    }

    public init(expertMLP: [Int] = [256, 128], towerMLP: [Int] = [64, 1]) {
        self.expertMLP = expertMLP
        self.towerMLP = towerMLP
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        expertMLP = try c.decodeIfPresent([Int].self, forKey: .expertMLP) ?? expertMLP
        towerMLP = try c.decodeIfPresent([Int].self, forKey: .towerMLP) ?? towerMLP
    }

    public var values: [(key: String, value: String)] { [("expert_mlp", "\(expertMLP)"), ("tower_mlp", "\(towerMLP)")] }

    var levelShapes: [ExpertLevelShape] { [ExpertLevelShape(sharedExperts: 1, taskExperts: 0)] }
    var countProblems: [ModelProblem] { [] }

    public static func benchPreset(embeddingDimension: Int) -> (definition: Self, idsPerSample: Int) { (Self(), 1) }
}
