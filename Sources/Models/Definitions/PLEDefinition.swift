import NeuralNetwork

/// Progressive layered extraction (Tang et al., RecSys 2020; `model.architecture: ple`):
/// `levels` of customized gate control, each with `shared_experts` and `task_experts` experts
/// per task; task t's gate mixes its own and the shared experts, and a level that feeds another
/// also mixes every expert for the next level's shared experts; the last level feeds the towers.
public struct PLEDefinition: MultitaskDefinition, Equatable {
    public static let name = "ple"
    public static let benchName = "ple"
    public static let summary = "multitask: levels of shared and per-task experts with per-task gates (PLE), then a tower per task"
    public static let keys = CodingKeys.allCases.map(\.rawValue)

    public var sharedExperts = 2
    public var taskExperts = 1
    public var levels = 1
    /// Every expert's widths (each layer followed by ReLU).
    public var expertMLP = [256, 128]
    /// Each task's tower after the last level; the last is 1.
    public var towerMLP = [64, 1]

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case sharedExperts = "shared_experts"
        case taskExperts = "task_experts"
        case levels
        case expertMLP = "expert_mlp"
        case towerMLP = "tower_mlp"
    }

    public init(sharedExperts: Int = 2, taskExperts: Int = 1, levels: Int = 1, expertMLP: [Int] = [256, 128], towerMLP: [Int] = [64, 1]) {
        self.sharedExperts = sharedExperts
        self.taskExperts = taskExperts
        self.levels = levels
        self.expertMLP = expertMLP
        self.towerMLP = towerMLP
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        sharedExperts = try c.decodeIfPresent(Int.self, forKey: .sharedExperts) ?? sharedExperts
        taskExperts = try c.decodeIfPresent(Int.self, forKey: .taskExperts) ?? taskExperts
        levels = try c.decodeIfPresent(Int.self, forKey: .levels) ?? levels
        expertMLP = try c.decodeIfPresent([Int].self, forKey: .expertMLP) ?? expertMLP
        towerMLP = try c.decodeIfPresent([Int].self, forKey: .towerMLP) ?? towerMLP
    }

    public var values: [(key: String, value: String)] {
        [("shared_experts", "\(sharedExperts)"), ("task_experts", "\(taskExperts)"), ("levels", "\(levels)"),
         ("expert_mlp", "\(expertMLP)"), ("tower_mlp", "\(towerMLP)")]
    }

    var levelShapes: [ExpertLevelShape] {
        Array(repeating: ExpertLevelShape(sharedExperts: sharedExperts, taskExperts: taskExperts), count: levels)
    }

    var countProblems: [ModelProblem] {
        Self.countProblem(sharedExperts, "shared_experts", 0...64) + Self.countProblem(taskExperts, "task_experts", 1...64)
            + Self.countProblem(levels, "levels", 1...16)
    }

    public static func benchPreset(embeddingDimension: Int) -> (definition: Self, idsPerSample: Int) { (Self(), 1) }
}
