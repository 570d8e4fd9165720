import Compute

/// Updates all dense parameters of an arena in one operation.
///
/// State has the arena's layout, in the arena's backend: Adagrad keeps one sum of squares per
/// element; Adam keeps the first and second moments. SGD keeps nothing.
public final class DenseOptimizer: @unchecked Sendable {
    public let settings: OptimizerSettings
    public let backend: any ComputeBackend
    /// Adagrad: sum of squares. Adam: first moment.
    public let firstState: DeviceBuffer<Float>
    /// Adam: second moment.
    public let secondState: DeviceBuffer<Float>
    /// Steps taken (Adam's bias correction); restored from checkpoints.
    public var stepCount = 0

    public init(settings: OptimizerSettings, backend: any ComputeBackend, parameterCount: Int) {
        self.settings = settings
        self.backend = backend
        let needsFirst = settings.algorithm != .sgd
        firstState = backend.makeFloats(needsFirst ? parameterCount : 0)
        secondState = backend.makeFloats(settings.algorithm == .adam ? parameterCount : 0)
        if settings.algorithm == .adagrad && settings.initialAccumulator != 0 {
            backend.fill(firstState.whole, with: settings.initialAccumulator)
        }
    }

    /// One update of `values` from `gradients` (the same length).
    public func step(values: DeviceSlice<Float>, gradients: DeviceSlice<Float>, learningRate: Float) {
        precondition(values.count == gradients.count, "DenseOptimizer: value/gradient size mismatch")
        stepCount += 1
        switch settings.algorithm {
        case .sgd:
            backend.sgdStep(values: values, gradients: gradients, learningRate: learningRate)
        case .adagrad:
            backend.adagradStep(values: values, gradients: gradients, sums: firstState.whole, learningRate: learningRate,
                                epsilon: settings.epsilon)
        case .adam:
            backend.adamStep(values: values, gradients: gradients, first: firstState.whole, second: secondState.whole,
                             step: AdamStep(learningRate: learningRate, step: stepCount, beta1: settings.beta1,
                                            beta2: settings.beta2, epsilon: settings.epsilon))
        }
    }
}
