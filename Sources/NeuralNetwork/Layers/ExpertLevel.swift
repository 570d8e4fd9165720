import Compute

/// Which experts one level of a multitask network has: `sharedExperts` every task's gate reads,
/// and `taskExperts` of each task's own (PLE's customized gate control; MMoE has shared experts
/// only, a shared-bottom model one shared expert).
public struct ExpertLevelShape: Sendable, Equatable {
    public var sharedExperts: Int
    public var taskExperts: Int

    public init(sharedExperts: Int, taskExperts: Int) {
        self.sharedExperts = sharedExperts
        self.taskExperts = taskExperts
    }
}

/// One level of experts and gates (Tang et al., RecSys 2020: a CGC level; with shared experts
/// only, MMoE's layer of Ma et al., KDD 2018).
///
/// Inputs are one per task and one for the shared branch (all the same at the first level).
/// Task t's experts read task t's input, the shared experts the shared input; task t's gate
/// reads task t's input and mixes its own experts, then the shared ones. A level that feeds
/// another has a shared gate too (when it has task experts): it reads the shared input and
/// mixes every expert, for the next level's shared branch.
public final class ExpertLevel: @unchecked Sendable {
    public let taskCount: Int
    /// Each shared expert: an MLP ending in ReLU.
    public let sharedExperts: [MLP]
    /// Each task's own experts.
    public let taskExperts: [[MLP]]
    /// One per task.
    public let taskGates: [ExpertGate]
    /// The next level's shared input, when there is a next level and task experts.
    public let sharedGate: ExpertGate?
    private let backend: any ComputeBackend

    /// Reserves `name/shared<e>/…`, `name/task<t>_<e>/…`, `name/gate<t>/…` and `name/shared_gate/…`
    /// in `arena`, in that order.
    public init(arena: ParameterArena, name: String, shape: ExpertLevelShape, taskCount: Int, inputSize: Int,
                expertWidths: [Int], feedsAnotherLevel: Bool, batchCapacity: Int) {
        precondition(shape.sharedExperts + shape.taskExperts >= 1, "ExpertLevel: no experts")
        self.taskCount = taskCount
        backend = arena.backend
        func expert(_ label: String) -> MLP {
            MLP(arena: arena, name: "\(name)/\(label)", inputSize: inputSize, widths: expertWidths, reluOnLast: true,
                batchCapacity: batchCapacity, needsInputGradient: true)
        }
        sharedExperts = (0..<shape.sharedExperts).map { expert("shared\($0)") }
        taskExperts = (0..<taskCount).map { t in (0..<shape.taskExperts).map { expert("task\(t)_\($0)") } }
        let width = expertWidths.last!
        taskGates = (0..<taskCount).map {
            ExpertGate(arena: arena, name: "\(name)/gate\($0)", inputSize: inputSize,
                       expertCount: shape.taskExperts + shape.sharedExperts, width: width, batchCapacity: batchCapacity)
        }
        sharedGate = feedsAnotherLevel && shape.taskExperts > 0
            ? ExpertGate(arena: arena, name: "\(name)/shared_gate", inputSize: inputSize,
                         expertCount: taskCount * shape.taskExperts + shape.sharedExperts, width: width, batchCapacity: batchCapacity)
            : nil
    }

    /// The width of every output.
    public var width: Int { (sharedExperts.first ?? taskExperts[0][0]).outputSize }
    /// Outputs: one per task, then the shared one when there is a shared gate.
    public var outputCount: Int { taskCount + (sharedGate == nil ? 0 : 1) }
    /// Every expert, in the order the arena holds them.
    public var experts: [MLP] { sharedExperts + taskExperts.flatMap { $0 } }
    /// The arena slice of every parameter of this level.
    public var parameterRange: Range<Int> {
        let ranges = experts.map(\.parameterRange) + (taskGates + [sharedGate].compactMap { $0 }).compactMap { $0.linear?.parameterRange }
        return ranges.map(\.lowerBound).min()!..<ranges.map(\.upperBound).max()!
    }

    public func initialize(using generator: inout SeededGenerator) {
        for expert in experts { expert.initialize(using: &generator) }
        for gate in taskGates { gate.initialize(using: &generator) }
        sharedGate?.initialize(using: &generator)
    }

    /// The experts task t's gate mixes (its own, then the shared), and those the shared gate mixes.
    private func mixed(forTask t: Int) -> [MLP] { taskExperts[t] + sharedExperts }
    private var mixedByShared: [MLP] { taskExperts.flatMap { $0 } + sharedExperts }

    /// `inputs`: one per task, then the shared input (B, inputSize) each. Returns the outputs
    /// (B, width) each: one per task, then the shared one when there is a shared gate.
    public func forward(inputs: [DeviceSlice<Float>], rows: Int) -> [DeviceSlice<Float>] {
        for expert in sharedExperts { expert.forward(input: inputs[taskCount], rows: rows) }
        for (t, experts) in taskExperts.enumerated() {
            for expert in experts { expert.forward(input: inputs[t], rows: rows) }
        }
        var outputs = taskGates.enumerated().map { t, gate in
            gate.forward(input: inputs[t], experts: mixed(forTask: t).map(\.output), rows: rows)
        }
        if let sharedGate {
            outputs.append(sharedGate.forward(input: inputs[taskCount], experts: mixedByShared.map(\.output), rows: rows))
        }
        return outputs
    }

    /// Backward from dL/d(outputs): adds the parameters' gradients into the arena and dL/d(inputs)
    /// into `inputGradients` (which may be one slice for all, as at the first level).
    public func backward(inputs: [DeviceSlice<Float>], outputGradients: [DeviceSlice<Float>],
                         inputGradients: [DeviceSlice<Float>], rows: Int) {
        let count = rows * width
        for expert in experts { backend.fill(expert.outputGradient.slice(0, count), with: 0) }
        for (t, gate) in taskGates.enumerated() {
            let experts = mixed(forTask: t)
            gate.backward(input: inputs[t], experts: experts.map(\.output), outputGradient: outputGradients[t],
                          expertGradients: experts.map(\.outputGradient), inputGradient: inputGradients[t], rows: rows)
        }
        if let sharedGate {
            let experts = mixedByShared
            sharedGate.backward(input: inputs[taskCount], experts: experts.map(\.output), outputGradient: outputGradients[taskCount],
                                expertGradients: experts.map(\.outputGradient), inputGradient: inputGradients[taskCount], rows: rows)
        }
        func backward(_ expert: MLP, input t: Int) {
            let inputGradient = expert.backward(input: inputs[t], rows: rows)!
            let size = rows * expert.inputSize
            backend.add(inputGradient.slice(0, size), into: inputGradients[t].slice(0, size))
        }
        for expert in sharedExperts { backward(expert, input: taskCount) }
        for (t, experts) in taskExperts.enumerated() {
            for expert in experts { backward(expert, input: t) }
        }
    }
}
