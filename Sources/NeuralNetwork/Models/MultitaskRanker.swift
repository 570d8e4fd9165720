import Compute

/// Sizes of a multitask ranker: levels of experts between the input and one tower per task.
public struct MultitaskArchitecture: Sendable, Equatable {
    public var denseFeatureCount: Int
    public var tableRowCounts: [Int]
    public var embeddingDimension: Int
    public var taskCount: Int
    /// The levels of experts, first to last (a shared-bottom model: one level of one shared
    /// expert; MMoE: one level of shared experts; PLE: levels with task experts).
    public var levels: [ExpertLevelShape]
    /// Every expert's MLP widths (each layer followed by ReLU).
    public var expertWidths: [Int]
    /// Every tower's MLP widths after the last level; the last is 1 (the task's output).
    public var towerWidths: [Int]
    /// How each table's bag is pooled.
    public var pooling: Pooling

    public init(denseFeatureCount: Int, tableRowCounts: [Int], embeddingDimension: Int, taskCount: Int,
                levels: [ExpertLevelShape], expertWidths: [Int], towerWidths: [Int], pooling: Pooling = .sum) {
        self.denseFeatureCount = denseFeatureCount
        self.tableRowCounts = tableRowCounts
        self.embeddingDimension = embeddingDimension
        self.taskCount = taskCount
        self.levels = levels
        self.expertWidths = expertWidths
        self.towerWidths = towerWidths
        self.pooling = pooling
    }
}

/// A multitask ranker (shared-bottom, MMoE, PLE): the concatenated pooled embeddings and dense
/// features (Wide&Deep's deep input) feed levels of expert MLPs mixed per task by softmax gates;
/// the last level's output for task t feeds task t's tower, which ends at the task's output.
public final class MultitaskRanker: GatedModel, @unchecked Sendable {
    public let architecture: MultitaskArchitecture
    public let backend: any ComputeBackend
    public let arena: ParameterArena
    public let inputs: DeviceBatch
    public let embeddings: EmbeddingCollection
    public let levels: [ExpertLevel]
    /// One per task, each ending at one output.
    public let towers: [MLP]
    public let batchCapacity: Int
    /// The input x, (B, T * D + denseFeatureCount), and its gradient.
    private let input: DeviceBuffer<Float>
    private let inputGradient: DeviceBuffer<Float>
    /// The gradients of the outputs of every level but the last (their inputs' at the next).
    private let levelOutputGradients: [[DeviceBuffer<Float>]]
    /// The outputs of the last forward (B, tasks) and their gradient.
    private let outputs: DeviceBuffer<Float>
    private let outputGradients: DeviceBuffer<Float>
    /// The inputs each level read in the last forward, and the towers' inputs.
    private var levelInputs: [[DeviceSlice<Float>]] = []
    private var towerInputs: [DeviceSlice<Float>] = []

    /// - Parameters:
    ///   - backend: where the parameters live and the arithmetic runs.
    ///   - makeEmbeddings: where the tables live (default: all in this process).
    public init(_ architecture: MultitaskArchitecture, batchCapacity: Int, seed: UInt64, backend: any ComputeBackend = CPUBackend(),
                makeEmbeddings: EmbeddingFactory = LocalEmbeddings.make) throws {
        precondition(!architecture.levels.isEmpty, "MultitaskRanker: no levels")
        precondition(architecture.towerWidths.last == 1, "MultitaskRanker: a tower must end at one output")
        precondition(architecture.taskCount >= 1, "MultitaskRanker: no tasks")
        precondition(architecture.levels.dropLast().allSatisfy { $0.taskExperts > 0 },
                     "MultitaskRanker: a level that feeds another needs task experts (its shared gate feeds the next)")
        self.architecture = architecture
        self.batchCapacity = batchCapacity
        self.backend = backend
        let arena = ParameterArena(backend: backend)
        self.arena = arena
        let tasks = architecture.taskCount
        inputs = DeviceBatch(backend: backend, capacity: batchCapacity, denseFeatureCount: architecture.denseFeatureCount,
                             tableCount: architecture.tableRowCounts.count, taskCount: tasks)
        embeddings = try makeEmbeddings(EmbeddingSpecification(name: "embeddings", tableRowCounts: architecture.tableRowCounts,
                                                               dimension: architecture.embeddingDimension, seed: seed,
                                                               pooling: architecture.pooling),
                                        backend, batchCapacity, nil)
        let inputWidth = architecture.tableRowCounts.count * architecture.embeddingDimension + architecture.denseFeatureCount
        let width = architecture.expertWidths.last!
        levels = architecture.levels.enumerated().map { l, shape in
            ExpertLevel(arena: arena, name: "level\(l)", shape: shape, taskCount: tasks, inputSize: l == 0 ? inputWidth : width,
                        expertWidths: architecture.expertWidths, feedsAnotherLevel: l < architecture.levels.count - 1,
                        batchCapacity: batchCapacity)
        }
        towers = (0..<tasks).map {
            MLP(arena: arena, name: "tower\($0)", inputSize: width, widths: architecture.towerWidths, reluOnLast: false,
                batchCapacity: batchCapacity, needsInputGradient: true)
        }
        input = backend.makeFloats(batchCapacity * inputWidth)
        inputGradient = backend.makeFloats(batchCapacity * inputWidth)
        levelOutputGradients = levels.dropLast().map { level in (0..<level.outputCount).map { _ in backend.makeFloats(batchCapacity * width) } }
        outputs = backend.makeFloats(batchCapacity * tasks)
        outputGradients = backend.makeFloats(batchCapacity * tasks)
        arena.allocate()

        var generator = SeededGenerator(seed: seed, stream: 1)
        for level in levels { level.initialize(using: &generator) }
        for tower in towers { tower.initialize(using: &generator) }
    }

    public var embeddingTables: [EmbeddingTable] { embeddings.localTables }
    public var embeddingCollections: [EmbeddingCollection] { [embeddings] }
    public var outputCount: Int { architecture.taskCount }
    public var logitGradient: DeviceSlice<Float> { outputGradients.slice(0, inputs.size * outputCount) }
    /// The width of the input x: the pooled embeddings, then the dense features.
    public var inputWidth: Int { input.count / batchCapacity }
    /// The arena slice of the towers.
    public var towerRange: Range<Int> { towers[0].parameterRange.lowerBound..<towers[towers.count - 1].parameterRange.upperBound }

    /// Table t's pooled vector goes to columns t*D ..< (t+1)*D of x.
    private var pooledLayout: PooledLayout {
        PooledLayout(firstOffset: 0, tableOffset: architecture.embeddingDimension, rowStride: inputWidth)
    }

    public func forward(_ batch: Batch) throws -> DeviceSlice<Float> {
        inputs.load(batch)
        let rows = batch.size, width = inputWidth, denseCount = architecture.denseFeatureCount, tasks = outputCount
        let x = input.whole
        try embeddings.forward(inputs, output: x, layout: pooledLayout)
        backend.copyRows(from: inputs.dense.whole, sourceStride: denseCount,
                         to: x.suffix(from: architecture.tableRowCounts.count * architecture.embeddingDimension),
                         destinationStride: width, rows: rows, columns: denseCount)
        // Every branch of the first level reads x; a later level reads the outputs of the one before.
        // (Every level but the last has a shared gate: its outputs are the next level's inputs.)
        var branchInputs = Array(repeating: x, count: tasks + 1)
        levelInputs = []
        for level in levels {
            levelInputs.append(branchInputs)
            branchInputs = level.forward(inputs: branchInputs, rows: rows)
        }
        towerInputs = Array(branchInputs.prefix(tasks))
        let result = outputs.slice(0, rows * tasks)
        for (t, tower) in towers.enumerated() {
            let output = tower.forward(input: towerInputs[t], rows: rows)
            backend.copyRows(from: output, sourceStride: 1, to: result.suffix(from: t), destinationStride: tasks, rows: rows, columns: 1)
        }
        return result
    }

    /// The towers; each level from the last; the tables.
    public func backwardStages(embeddingMode: EmbeddingBackwardMode) -> [BackwardStage] {
        let rows = inputs.size, tasks = outputCount, width = architecture.expertWidths.last!
        var gradients: [DeviceSlice<Float>] = []
        var stages: [BackwardStage] = [{
            gradients = self.towers.enumerated().map { t, tower in
                self.backend.copyRows(from: self.logitGradient.suffix(from: t), sourceStride: tasks, to: tower.outputGradient,
                                      destinationStride: 1, rows: rows, columns: 1)
                return tower.backward(input: self.towerInputs[t], rows: rows)!
            }
            return self.towerRange
        }]
        for l in stride(from: levels.count - 1, through: 0, by: -1) {
            stages.append {
                let level = self.levels[l]
                let inputGradients: [DeviceSlice<Float>]
                if l == 0 {
                    inputGradients = Array(repeating: self.inputGradient.slice(0, rows * self.inputWidth), count: tasks + 1)
                    self.backend.fill(inputGradients[0], with: 0)
                } else {
                    inputGradients = self.levelOutputGradients[l - 1].map { $0.slice(0, rows * width) }
                    for gradient in inputGradients { self.backend.fill(gradient, with: 0) }
                }
                level.backward(inputs: self.levelInputs[l], outputGradients: gradients, inputGradients: inputGradients, rows: rows)
                gradients = inputGradients
                return level.parameterRange
            }
        }
        stages.append {
            try self.embeddings.backward(self.inputs, outputGradient: self.inputGradient.whole, layout: self.pooledLayout,
                                         mode: embeddingMode)
            return nil
        }
        return stages
    }

    public func gateWeights(rows: Int) -> [(gate: GateDescription, weights: DeviceSlice<Float>)] {
        var result: [(gate: GateDescription, weights: DeviceSlice<Float>)] = []
        for (l, level) in levels.enumerated() {
            let own = { (t: Int) in (0..<level.taskExperts[t].count).map { (task: Optional(t), index: $0) } }
            let shared = (0..<level.sharedExperts.count).map { (task: Int?.none, index: $0) }
            for (t, gate) in level.taskGates.enumerated() {
                if let weights = gate.weights(rows: rows) {
                    result.append((GateDescription(level: l, task: t, experts: own(t) + shared), weights))
                }
            }
            if let gate = level.sharedGate, let weights = gate.weights(rows: rows) {
                result.append((GateDescription(level: l, task: nil, experts: (0..<outputCount).flatMap(own) + shared), weights))
            }
        }
        return result
    }
}
