import Compute

/// Updates embedding tables from their `SparseRowGradient`s: only touched rows change.
///
/// State per table, in the tables' backend: row-wise Adagrad keeps one value per row; lazy Adam
/// keeps the two moments per element. SGD keeps nothing. A bf16 table's touched rows are updated
/// in fp32 and written back by stochastic rounding drawn from (`settings.roundingSeed`, step,
/// table), so a resumed run rounds as the uninterrupted one did; its state is fp32, or bf16 by
/// `settings.tableStatePrecision` (rounded the same way).
public final class SparseOptimizer: @unchecked Sendable {
    public let settings: OptimizerSettings
    /// Per table: Adagrad row sums of squares (rows), or Adam first moments (rows * dimension).
    public let firstStates: [StoredValues]
    /// Per table: Adam second moments.
    public let secondStates: [StoredValues]
    /// Steps taken (Adam's bias correction); restored from checkpoints.
    public var stepCount = 0

    public init(settings: OptimizerSettings, tables: [EmbeddingTable]) {
        self.settings = settings
        func states(_ count: (EmbeddingTable) -> Int) -> [StoredValues] {
            tables.map { table in
                StoredValues(backend: table.backend, count: count(table),
                             precision: table.precision == .bf16 ? settings.tableStatePrecision : .fp32)
            }
        }
        switch settings.algorithm {
        case .sgd:
            firstStates = states { _ in 0 }
            secondStates = states { _ in 0 }
        case .adagrad:
            firstStates = states(\.rowCount)
            for state in firstStates { state.fill(0..<state.count, with: settings.initialAccumulator) }
            secondStates = states { _ in 0 }
        case .adam:
            firstStates = states(\.valueCount)
            secondStates = states(\.valueCount)
        }
    }

    /// Table `index`'s state of `rows` as a new row's (rows of a dynamic table given a new key).
    private func resetState(ofRows rows: [Int32], table index: Int, rowCount: Int) {
        for (which, states) in [firstStates[index], secondStates[index]].enumerated() where states.count > 0 {
            let width = states.count / rowCount
            let initial = settings.algorithm == .adagrad && which == 0 ? settings.initialAccumulator : 0
            for row in rows { states.fill((Int(row) * width)..<(Int(row) * width + width), with: initial) }
        }
    }

    /// Applies every table's current gradient.
    public func step(tables: [EmbeddingTable], learningRate: Float) {
        stepCount += 1
        for (index, table) in tables.enumerated() {
            if let fresh = table.rowMap?.freshRows, !fresh.isEmpty { resetState(ofRows: fresh, table: index, rowCount: table.rowCount) }
            switch table.storage {
            case .fp32(let weights):
                update(table, weights.whole, index: index, learningRate: learningRate)
            case .bf16(let weights):
                let rounding = StochasticRounding(runSeed: settings.roundingSeed, step: stepCount, table: table.name,
                                                  firstRow: table.firstRow)
                update(table, weights.whole, index: index, learningRate: learningRate, rounding: rounding)
            }
        }
    }

    private func adamStep(_ learningRate: Float) -> AdamStep {
        AdamStep(learningRate: learningRate, step: stepCount, beta1: settings.beta1, beta2: settings.beta2, epsilon: settings.epsilon)
    }

    /// An fp32 table's state: fp32.
    private func floats(_ state: StoredValues) -> DeviceSlice<Float> {
        guard case .fp32(let values) = state else { preconditionFailure("SparseOptimizer: bf16 state of an fp32 table") }
        return values.whole
    }

    private func update(_ table: EmbeddingTable, _ weights: DeviceSlice<Float>, index: Int, learningRate: Float) {
        let backend = table.backend
        switch settings.algorithm {
        case .sgd:
            backend.sparseSGD(table.gradient, table: weights, learningRate: learningRate)
        case .adagrad:
            backend.sparseAdagrad(table.gradient, table: weights, rowSums: floats(firstStates[index]), learningRate: learningRate,
                                  epsilon: settings.epsilon)
        case .adam:
            backend.sparseAdam(table.gradient, table: weights, first: floats(firstStates[index]), second: floats(secondStates[index]),
                               step: adamStep(learningRate))
        }
    }

    private func update(_ table: EmbeddingTable, _ weights: DeviceSlice<UInt16>, index: Int, learningRate: Float,
                        rounding: StochasticRounding) {
        let backend = table.backend
        switch settings.algorithm {
        case .sgd:
            backend.sparseSGD(table.gradient, table: weights, learningRate: learningRate, rounding: rounding)
        case .adagrad:
            backend.sparseAdagrad(table.gradient, table: weights, rowSums: firstStates[index], learningRate: learningRate,
                                  epsilon: settings.epsilon, rounding: rounding)
        case .adam:
            backend.sparseAdam(table.gradient, table: weights, first: firstStates[index], second: secondStates[index],
                               step: adamStep(learningRate), rounding: rounding)
        }
    }
}
