import Compute
import Foundation

/// Updates all dense parameters of an arena in one flat loop.
///
/// State has the arena's layout: Adagrad keeps one sum of squares per element; Adam keeps the
/// first and second moments. SGD keeps nothing.
public final class DenseOptimizer: @unchecked Sendable {
    public let settings: OptimizerSettings
    /// Adagrad: sum of squares. Adam: first moment.
    public let firstState: FloatBuffer
    /// Adam: second moment.
    public let secondState: FloatBuffer
    /// Steps taken (Adam's bias correction); restored from checkpoints.
    public var stepCount = 0

    public init(settings: OptimizerSettings, parameterCount: Int) {
        self.settings = settings
        let needsFirst = settings.algorithm != .sgd
        firstState = FloatBuffer(count: needsFirst ? parameterCount : 0)
        secondState = FloatBuffer(count: settings.algorithm == .adam ? parameterCount : 0)
        if settings.algorithm == .adagrad && settings.initialAccumulator != 0 {
            firstState.base.update(repeating: settings.initialAccumulator, count: parameterCount)
        }
    }

    /// One update of `values` from `gradients` (the same length).
    public func step(values: TensorView, gradients: TensorView, learningRate: Float) {
        precondition(values.count == gradients.count, "DenseOptimizer: value/gradient size mismatch")
        stepCount += 1
        let p = values.base, g = gradients.base, n = values.count
        let epsilon = settings.epsilon
        switch settings.algorithm {
        case .sgd:
            for i in 0..<n { p[i] -= learningRate * g[i] }
        case .adagrad:
            let s = firstState.base
            for i in 0..<n {
                s[i] += g[i] * g[i]
                p[i] -= learningRate * g[i] / (s[i].squareRoot() + epsilon)
            }
        case .adam:
            let m = firstState.base, v = secondState.base
            let b1 = settings.beta1, b2 = settings.beta2
            let t = Double(stepCount)
            let stepSize = learningRate / Float(1 - pow(Double(b1), t))
            let secondCorrection = Float(1 / (1 - pow(Double(b2), t)).squareRoot())
            for i in 0..<n {
                m[i] = b1 * m[i] + (1 - b1) * g[i]
                v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i]
                p[i] -= stepSize * m[i] / (v[i].squareRoot() * secondCorrection + epsilon)
            }
        }
    }
}
