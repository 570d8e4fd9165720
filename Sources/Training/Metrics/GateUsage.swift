import Compute
import NeuralNetwork

/// The mean weight one gate of a multitask ranker gives each expert it mixes, over held-out
/// samples: where the tasks' mixtures differ, and which experts no task uses.
public struct GateUsage: Sendable, Equatable {
    public struct ExpertWeight: Sendable, Equatable {
        public var expert: String
        public var weight: Double

        public init(expert: String, weight: Double) {
            self.expert = expert
            self.weight = weight
        }
    }

    /// The gate: its task's name (`shared` for a level's shared gate), prefixed by its level
    /// (`level0/like`) when the model has several levels.
    public var gate: String
    /// The gate's level (0 for the first).
    public var level: Int
    public var experts: [ExpertWeight]

    public init(gate: String, level: Int, experts: [ExpertWeight]) {
        self.gate = gate
        self.level = level
        self.experts = experts
    }

    /// An expert whose mean weight is below this in every gate that mixes it is reported unused.
    public static let unusedBelow = 0.05

    /// The names of a gate's experts: `expert<i>` in a level of shared experts only (MMoE),
    /// else `shared<i>` and `<task><i>` (PLE).
    static func names(of gate: GateDescription, tasks: [String], levelCount: Int) -> (gate: String, experts: [String]) {
        let sharedOnly = gate.experts.allSatisfy { $0.task == nil }
        let experts = gate.experts.map { expert in
            expert.task.map { "\(tasks[$0])\(expert.index)" } ?? "\(sharedOnly ? "expert" : "shared")\(expert.index)"
        }
        let name = gate.task.map { tasks[$0] } ?? "shared"
        return (levelCount > 1 ? "level\(gate.level)/\(name)" : name, experts)
    }

    /// Experts whose mean weight is below `unusedBelow` in every gate that mixes them, named as
    /// in the gates (prefixed by their level, `level0/expert3`, with several levels).
    public static func unusedExperts(_ gates: [GateUsage]) -> [String] {
        let levelCount = (gates.map(\.level).max() ?? 0) + 1
        var best: [String: Double] = [:], order: [String] = []
        for gate in gates {
            for expert in gate.experts {
                let key = levelCount > 1 ? "level\(gate.level)/\(expert.expert)" : expert.expert
                if best[key] == nil { order.append(key) }
                best[key] = max(best[key] ?? 0, expert.weight)
            }
        }
        return order.filter { best[$0]! < unusedBelow }
    }
}

/// Sums a gated model's gate weights over the batches it scores (this rank's samples).
final class GateWeightTotals {
    private let model: GatedModel
    private let sums: [DeviceBuffer<Float>]
    private let descriptions: [GateDescription]

    init(model: GatedModel) {
        self.model = model
        let gates = model.gateWeights(rows: 0)
        descriptions = gates.map(\.gate)
        sums = gates.map { gate in
            let buffer = model.backend.makeFloats(gate.gate.experts.count)
            model.backend.fill(buffer.whole, with: 0)
            return buffer
        }
    }

    /// Adds the weights of the last forward, over `rows` samples.
    func add(rows: Int) {
        for (gate, sum) in zip(model.gateWeights(rows: rows), sums) {
            model.backend.accumulateColumnSums(gate.weights, rows: rows, columns: sum.count, into: sum.whole)
        }
    }

    /// Every rank's sums, in one flat list (gates, then their experts).
    var flattened: [Double] { sums.flatMap { $0.toArray().map(Double.init) } }

    /// The usage from the sums over every rank (`totals`, as `flattened`) of `count` samples.
    func usage(totals: [Double], count: Int, tasks: [String]) -> [GateUsage] {
        var index = 0
        let levels = (descriptions.map(\.level).max() ?? 0) + 1
        return descriptions.map { description in
            let names = GateUsage.names(of: description, tasks: tasks, levelCount: levels)
            let experts = names.experts.map { name in
                defer { index += 1 }
                return GateUsage.ExpertWeight(expert: name, weight: totals[index] / Double(max(count, 1)))
            }
            return GateUsage(gate: names.gate, level: description.level, experts: experts)
        }
    }
}
