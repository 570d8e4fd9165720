import Compute

/// Sizes of a Wide&Deep model.
public struct WideDeepArchitecture: Sendable, Equatable {
    public var denseFeatureCount: Int
    public var tableRowCounts: [Int]
    public var embeddingDimension: Int
    /// Deep MLP widths after its input (T * D embeddings then the dense features); the last is
    /// the number of outputs (one per task).
    public var deepWidths: [Int]
    /// DeepFM: adds the factorisation machine's second-order term over the pooled embeddings
    /// (the wide part is DeepFM's first-order term; FM and the deep MLP share the embeddings).
    public var factorizationMachine: Bool
    /// How each table's bag is pooled for the deep part (the wide part sums its weights).
    public var pooling: Pooling

    public init(denseFeatureCount: Int, tableRowCounts: [Int], embeddingDimension: Int, deepWidths: [Int],
                factorizationMachine: Bool = false, pooling: Pooling = .sum) {
        self.denseFeatureCount = denseFeatureCount
        self.tableRowCounts = tableRowCounts
        self.embeddingDimension = embeddingDimension
        self.deepWidths = deepWidths
        self.factorizationMachine = factorizationMachine
        self.pooling = pooling
    }
}

/// Wide&Deep: logit = wide linear (ids and dense features) + deep MLP over the concatenated
/// embeddings and dense features. DeepFM (DeepCTR's convention) is the same model plus the
/// factorisation machine's term ½ Σ_k((Σ_f v_fk)² − Σ_f v_fk²) over the pooled embeddings.
public final class WideDeep: RecommendationModel, @unchecked Sendable {
    public let architecture: WideDeepArchitecture
    public let backend: any ComputeBackend
    public let arena: ParameterArena
    public let inputs: DeviceBatch
    public let embeddings: EmbeddingCollection
    public let deepMLP: MLP
    public let wide: WideLinear
    public let batchCapacity: Int
    /// Deep input, (B, T * D + denseFeatureCount).
    private let deepInput: DeviceBuffer<Float>
    private let logits: DeviceBuffer<Float>
    /// With several tasks: the shared term (wide part and FM) or its gradient (B), and one
    /// task's column (B).
    private let shared: DeviceBuffer<Float>
    private let column: DeviceBuffer<Float>

    /// - Parameters:
    ///   - backend: where the parameters live and the arithmetic runs.
    ///   - makeEmbeddings: where the tables live (default: all in this process).
    public init(_ architecture: WideDeepArchitecture, batchCapacity: Int, seed: UInt64, backend: any ComputeBackend = CPUBackend(),
                makeEmbeddings: EmbeddingFactory = LocalEmbeddings.make) throws {
        precondition((architecture.deepWidths.last ?? 0) >= 1, "WideDeep: deep MLP must end at one output per task")
        self.architecture = architecture
        self.batchCapacity = batchCapacity
        self.backend = backend
        arena = ParameterArena(backend: backend)
        inputs = DeviceBatch(backend: backend, capacity: batchCapacity, denseFeatureCount: architecture.denseFeatureCount,
                             tableCount: architecture.tableRowCounts.count, taskCount: architecture.deepWidths.last!)
        let d = architecture.embeddingDimension, t = architecture.tableRowCounts.count
        embeddings = try makeEmbeddings(EmbeddingSpecification(name: "embeddings", tableRowCounts: architecture.tableRowCounts,
                                                               dimension: d, seed: seed, pooling: architecture.pooling),
                                        backend, batchCapacity, nil)
        let deepInputWidth = t * d + architecture.denseFeatureCount
        deepMLP = MLP(arena: arena, name: "deep_mlp", inputSize: deepInputWidth, widths: architecture.deepWidths,
                      reluOnLast: false, batchCapacity: batchCapacity, needsInputGradient: true)
        wide = try WideLinear(arena: arena, name: "wide", denseFeatureCount: architecture.denseFeatureCount,
                              tableRowCounts: architecture.tableRowCounts, batchCapacity: batchCapacity,
                              sameFeaturesAs: embeddings, makeEmbeddings: makeEmbeddings)
        embeddingTables = embeddings.localTables + wide.embeddings.localTables
        deepInput = backend.makeFloats(batchCapacity * deepInputWidth)
        let outputs = architecture.deepWidths.last!
        logits = backend.makeFloats(batchCapacity * outputs)
        shared = backend.makeFloats(outputs > 1 ? batchCapacity : 0)
        column = backend.makeFloats(outputs > 1 ? batchCapacity : 0)
        arena.allocate()

        var generator = SeededGenerator(seed: seed, stream: 1)
        deepMLP.initialize(using: &generator)
    }

    public let embeddingTables: [EmbeddingTable]
    public var embeddingCollections: [EmbeddingCollection] { [embeddings, wide.embeddings] }
    public var outputCount: Int { deepMLP.outputSize }
    public var logitGradient: DeviceSlice<Float> { deepMLP.outputGradient.slice(0, inputs.size * outputCount) }
    private var deepInputWidth: Int { deepMLP.inputSize }

    /// Table t's pooled vector goes to columns t*D ..< (t+1)*D of the deep input.
    private var pooledLayout: PooledLayout {
        PooledLayout(firstOffset: 0, tableOffset: architecture.embeddingDimension, rowStride: deepInputWidth)
    }

    public func forward(_ batch: Batch) throws -> DeviceSlice<Float> {
        inputs.load(batch)
        let rows = batch.size, d = architecture.embeddingDimension, width = deepInputWidth
        let x = deepInput.whole
        try embeddings.forward(inputs, output: x, layout: pooledLayout)
        let denseCount = architecture.denseFeatureCount
        backend.copyRows(from: inputs.dense.whole, sourceStride: denseCount, to: x.suffix(from: architecture.tableRowCounts.count * d),
                         destinationStride: width, rows: rows, columns: denseCount)
        let deep = deepMLP.forward(input: x, rows: rows)
        let wideLogits = try wide.forward(inputs)
        let outputs = outputCount
        let sum = logits.slice(0, rows * outputs)
        backend.copy(deep.slice(0, rows * outputs), to: sum)
        // The wide part and the FM term are shared by the tasks: each task's output adds them.
        let term = outputs == 1 ? sum : shared.slice(0, rows)
        if outputs == 1 { backend.add(wideLogits, into: sum) } else { backend.copy(wideLogits, to: term) }
        if architecture.factorizationMachine {
            backend.factorizationMachine(input: x, rowStride: width, fields: architecture.tableRowCounts.count, dimension: d,
                                         rows: rows, addingInto: term)
        }
        if outputs > 1 {
            for task in 0..<outputs { addColumn(task, of: sum, term, rows: rows) }
        }
        return sum
    }

    /// Column `task` of `matrix` (B, outputCount) += `vector` (B), through `column`.
    private func addColumn(_ task: Int, of matrix: DeviceSlice<Float>, _ vector: DeviceSlice<Float>, rows: Int) {
        let single = column.slice(0, rows)
        backend.copyRows(from: matrix.suffix(from: task), sourceStride: outputCount, to: single, destinationStride: 1, rows: rows, columns: 1)
        backend.add(vector, into: single)
        backend.copyRows(from: single, sourceStride: 1, to: matrix.suffix(from: task), destinationStride: outputCount, rows: rows, columns: 1)
    }

    /// The gradient of the shared term: the sum over tasks of dL/d(output), (B).
    private func sharedGradient(rows: Int) -> DeviceSlice<Float> {
        guard outputCount > 1 else { return logitGradient }
        let sum = shared.slice(0, rows), single = column.slice(0, rows)
        backend.fill(sum, with: 0)
        for task in 0..<outputCount {
            backend.copyRows(from: logitGradient.suffix(from: task), sourceStride: outputCount, to: single, destinationStride: 1,
                             rows: rows, columns: 1)
            backend.add(single, into: sum)
        }
        return sum
    }

    /// The wide part; the deep MLP; DeepFM's term and the tables.
    public func backwardStages(embeddingMode: EmbeddingBackwardMode) -> [BackwardStage] {
        let rows = inputs.size
        var shared: DeviceSlice<Float>?, dx: DeviceSlice<Float>?
        return [
            {
                // The logit is a sum, so both parts receive the same dL/d(logit) (the shared part, its
                // sum over the tasks); the wide part reads it before the deep backward masks nothing in
                // it (the last deep layer has no ReLU).
                shared = self.sharedGradient(rows: rows)
                try self.wide.backward(self.inputs, logitGradient: shared!, embeddingMode: embeddingMode)
                return self.wide.dense.parameterRange
            },
            {
                dx = self.deepMLP.backward(input: self.deepInput.whole, rows: rows)!
                return self.deepMLP.parameterRange
            },
            {
                if self.architecture.factorizationMachine {
                    // The FM term reads the embeddings' columns of the deep input: its gradient joins theirs.
                    self.backend.factorizationMachineBackward(input: self.deepInput.whole, rowStride: self.deepInputWidth,
                                                              fields: self.architecture.tableRowCounts.count,
                                                              dimension: self.architecture.embeddingDimension, rows: rows,
                                                              outputGradient: shared!, addingInto: dx!)
                }
                try self.embeddings.backward(self.inputs, outputGradient: dx!, layout: self.pooledLayout, mode: embeddingMode)
                return nil
            },
        ]
    }
}
