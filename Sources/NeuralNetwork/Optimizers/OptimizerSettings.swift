import Compute

/// The update rule for all parameters of a model.
public enum OptimizerAlgorithm: String, Sendable, Codable, CaseIterable {
    /// Plain SGD: p -= lr * g.
    case sgd
    /// Adagrad: dense parameters keep a per-element sum of squares; embedding tables keep one
    /// per row (row-wise Adagrad, the mean of the squared row gradient), updated only for the
    /// rows a batch touches.
    case adagrad
    /// Adam (PyTorch's form, bias-corrected); embedding rows are updated lazily: only touched
    /// rows advance their moments.
    case adam
}

/// Hyper-parameters of the optimizer; the learning rate comes from the schedule every step.
public struct OptimizerSettings: Sendable, Equatable {
    public var algorithm: OptimizerAlgorithm
    public var epsilon: Float
    public var beta1: Float
    public var beta2: Float
    /// Starting value of Adagrad's sums of squares.
    public var initialAccumulator: Float
    /// The seed of the stochastic rounding of bf16 tables' updates (the run's seed).
    public var roundingSeed: UInt64
    /// How the state of bf16 tables is stored (fp32 tables keep fp32 state).
    public var tableStatePrecision: TablePrecision

    public init(algorithm: OptimizerAlgorithm, epsilon: Float? = nil, beta1: Float = 0.9, beta2: Float = 0.999,
                initialAccumulator: Float = 0, roundingSeed: UInt64 = 0, tableStatePrecision: TablePrecision = .fp32) {
        self.algorithm = algorithm
        self.epsilon = epsilon ?? (algorithm == .adam ? 1e-8 : 1e-10)
        self.beta1 = beta1
        self.beta2 = beta2
        self.initialAccumulator = initialAccumulator
        self.roundingSeed = roundingSeed
        self.tableStatePrecision = tableStatePrecision
    }
}
