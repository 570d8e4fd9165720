import NeuralNetwork

/// Multi-gate mixture of experts (Ma et al., KDD 2018; `model.architecture: mmoe`): `experts`
/// expert MLPs over the concatenated embeddings and dense features; per task a softmax gate (a
/// linear map of that input) mixes their outputs for the task's tower.
public struct MMoEDefinition: MultitaskDefinition, Equatable {
    public static let name = "mmoe"
    public static let benchName = "mmoe"
    public static let summary = "multitask: expert MLPs mixed per task by a softmax gate (MMoE), then a tower per task"
    public static let keys = CodingKeys.allCases.map(\.rawValue)

    public var experts = 4
    /// Every expert's widths (each layer followed by ReLU).
    public var expertMLP = [256, 128]
    /// Each task's tower after its mixture; the last is 1.
    public var towerMLP = [64, 1]

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case experts
        case expertMLP = "expert_mlp"
        case towerMLP = "tower_mlp"
    }

    public init(experts: Int = 4, expertMLP: [Int] = [256, 128], towerMLP: [Int] = [64, 1]) {
        self.experts = experts
        self.expertMLP = expertMLP
        self.towerMLP = towerMLP
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        experts = try c.decodeIfPresent(Int.self, forKey: .experts) ?? experts
        expertMLP = try c.decodeIfPresent([Int].self, forKey: .expertMLP) ?? expertMLP
        towerMLP = try c.decodeIfPresent([Int].self, forKey: .towerMLP) ?? towerMLP
    }

    public var values: [(key: String, value: String)] {
        [("experts", "\(experts)"), ("expert_mlp", "\(expertMLP)"), ("tower_mlp", "\(towerMLP)")]
    }

    var levelShapes: [ExpertLevelShape] { [ExpertLevelShape(sharedExperts: experts, taskExperts: 0)] }
    var countProblems: [ModelProblem] { Self.countProblem(experts, "experts", 1...64) }

    public static func benchPreset(embeddingDimension: Int) -> (definition: Self, idsPerSample: Int) { (Self(), 1) }
}
