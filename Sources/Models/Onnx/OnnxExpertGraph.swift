import NeuralNetwork

/// The multitask rankers' layers in the inference graph: levels of experts, softmax gates and
/// one tower per task.
extension OnnxModelGraph {
    /// Σ_e softmax(input W^T + b)[e] * expert_e; over one expert, that expert.
    mutating func expertGate(_ gate: ExpertGate, name: String, input: String, experts: [String]) -> String {
        guard let linear = gate.linear else { return experts[0] }
        let weights = builder.node("Softmax", [self.linear(linear, name: name, input: input, rowsLike: input)],
                                   [OnnxAttribute.int("axis", 1)])
        let weighted = experts.enumerated().map { e, expert in builder.node("Mul", [column(weights, e), expert]) }
        return sum(weighted)
    }

    /// The ranker's outputs [N, tasks]: x = concat(pooled embeddings, dense), its levels, then
    /// each task's tower.
    mutating func multitaskRanker(_ ranker: MultitaskRanker) -> String {
        let pooled = embeddingBags(ranker.embeddings)
        let x = concat(pooled + (denseFeatureCount > 0 ? [dense] : []))
        let tasks = ranker.outputCount
        var branches = Array(repeating: x, count: tasks + 1)
        for (l, level) in ranker.levels.enumerated() {
            let name = "level\(l)"
            let shared = level.sharedExperts.enumerated().map { e, expert in mlp(expert, name: "\(name)/shared\(e)", input: branches[tasks]) }
            let own = level.taskExperts.enumerated().map { t, experts in
                experts.enumerated().map { e, expert in mlp(expert, name: "\(name)/task\(t)_\(e)", input: branches[t]) }
            }
            var outputs = level.taskGates.enumerated().map { t, gate in
                expertGate(gate, name: "\(name)/gate\(t)", input: branches[t], experts: own[t] + shared)
            }
            if let gate = level.sharedGate {
                outputs.append(expertGate(gate, name: "\(name)/shared_gate", input: branches[tasks], experts: own.flatMap { $0 } + shared))
            }
            branches = outputs
        }
        let towers = ranker.towers.enumerated().map { t, tower in mlp(tower, name: "tower\(t)", input: branches[t]) }
        return concat(towers)
    }
}
