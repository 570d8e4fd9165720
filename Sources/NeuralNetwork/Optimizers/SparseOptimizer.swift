import Compute
import Foundation

/// Updates embedding tables from their `SparseRowGradient`s: only touched rows change.
///
/// State per table: row-wise Adagrad keeps one Float per row; lazy Adam keeps the two moments
/// per element. SGD keeps nothing.
public final class SparseOptimizer: @unchecked Sendable {
    public let settings: OptimizerSettings
    /// Per table: Adagrad row sums of squares (rows), or Adam first moments (rows * dimension).
    public let firstStates: [FloatBuffer]
    /// Per table: Adam second moments.
    public let secondStates: [FloatBuffer]
    /// Steps taken (Adam's bias correction); restored from checkpoints.
    public var stepCount = 0

    public init(settings: OptimizerSettings, tables: [EmbeddingTable]) {
        self.settings = settings
        switch settings.algorithm {
        case .sgd:
            firstStates = tables.map { _ in FloatBuffer(count: 0) }
            secondStates = firstStates
        case .adagrad:
            firstStates = tables.map { table in
                let state = FloatBuffer(count: table.rowCount)
                state.base.update(repeating: settings.initialAccumulator, count: table.rowCount)
                return state
            }
            secondStates = tables.map { _ in FloatBuffer(count: 0) }
        case .adam:
            firstStates = tables.map { FloatBuffer(count: $0.weights.count) }
            secondStates = tables.map { FloatBuffer(count: $0.weights.count) }
        }
    }

    /// Applies every table's current gradient.
    public func step(tables: [EmbeddingTable], learningRate: Float) {
        stepCount += 1
        for (index, table) in tables.enumerated() {
            apply(table.gradient, to: table, tableIndex: index, learningRate: learningRate)
        }
    }

    private func apply(_ gradient: SparseRowGradient, to table: EmbeddingTable, tableIndex: Int, learningRate: Float) {
        let d = table.dimension, epsilon = settings.epsilon
        switch settings.algorithm {
        case .sgd:
            for u in 0..<gradient.rowCount {
                Kernels.axpy(-learningRate, gradient.gradient(ofRow: u), table.row(Int(gradient.rowIDs[u])), count: d)
            }
        case .adagrad:
            let sums = firstStates[tableIndex].base
            for u in 0..<gradient.rowCount {
                let id = Int(gradient.rowIDs[u]), g = gradient.gradient(ofRow: u)
                sums[id] += Kernels.dot(g, g, count: d) / Float(d)
                let multiplier = -learningRate / (sums[id].squareRoot() + epsilon)
                Kernels.axpy(multiplier, g, table.row(id), count: d)
            }
        case .adam:
            let b1 = settings.beta1, b2 = settings.beta2, t = Double(stepCount)
            let stepSize = learningRate / Float(1 - pow(Double(b1), t))
            let secondCorrection = Float(1 / (1 - pow(Double(b2), t)).squareRoot())
            for u in 0..<gradient.rowCount {
                let id = Int(gradient.rowIDs[u]), g = gradient.gradient(ofRow: u)
                let m = firstStates[tableIndex].base + id * d, v = secondStates[tableIndex].base + id * d
                let w = table.row(id)
                for k in 0..<d {
                    m[k] = b1 * m[k] + (1 - b1) * g[k]
                    v[k] = b2 * v[k] + (1 - b2) * g[k] * g[k]
                    w[k] -= stepSize * m[k] / (v[k].squareRoot() * secondCorrection + epsilon)
                }
            }
        }
    }
}
