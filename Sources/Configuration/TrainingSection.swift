import Compute
import NeuralNetwork

/// How to train.
public struct TrainingSection: Codable, Sendable, Equatable {
    /// The global batch: with N ranks each takes batch_size / N samples.
    public var batchSize = 2048
    public var epochs = 1
    /// Stop after this many steps (0: run all epochs).
    public var maxSteps = 0
    public var seed = 1
    /// Shuffle the training samples every epoch (seeded).
    public var shuffle = true
    /// Samples shuffled among themselves at a time, in blocks of consecutive samples (0: the
    /// whole dataset): for records larger than the memory that caches them.
    public var shuffleWindow = 0
    /// Threads per rank: the row-parallel kernels, the fp32 products split over them (OpenBLAS
    /// itself stays on one thread) and oneDNN's bf16 products.
    public var threads = 1
    /// Print progress every this many steps (0: never).
    public var logEvery = 100
    /// Where parameters live and the arithmetic runs: a name in `BackendRegistry`.
    public var backend = "cpu"
    /// The precision of the matrix products (fp32, or bf16 operands with fp32 accumulation).
    public var precision: MatmulPrecision = .fp32
    /// fp32 products on a GPU's tensor cores in TF32 (10-bit mantissas, fp32 accumulation):
    /// the cuda backend only, off by default (results then differ from fp32's at 1e-3).
    public var tensorFloat32 = false
    public var optimizer = OptimizerSection()
    public var schedule = ScheduleSection()
    /// Each task's weight in the loss by task name (1 for a task not named): the total loss is
    /// Σ weight × the task's mean loss.
    public var lossWeights = TaskWeights()

    enum CodingKeys: String, CodingKey, CaseIterable {
        case batchSize = "batch_size"
        case epochs
        case maxSteps = "max_steps"
        case seed, shuffle, threads
        case shuffleWindow = "shuffle_window"
        case logEvery = "log_every"
        case backend, precision, optimizer, schedule
        case tensorFloat32 = "tf32"
        case lossWeights = "loss_weights"
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = TrainingSection()
        batchSize = try c.decodeIfPresent(Int.self, forKey: .batchSize) ?? d.batchSize
        epochs = try c.decodeIfPresent(Int.self, forKey: .epochs) ?? d.epochs
        maxSteps = try c.decodeIfPresent(Int.self, forKey: .maxSteps) ?? d.maxSteps
        seed = try c.decodeIfPresent(Int.self, forKey: .seed) ?? d.seed
        shuffle = try c.decodeIfPresent(Bool.self, forKey: .shuffle) ?? d.shuffle
        shuffleWindow = try c.decodeIfPresent(Int.self, forKey: .shuffleWindow) ?? d.shuffleWindow
        threads = try c.decodeIfPresent(Int.self, forKey: .threads) ?? d.threads
        logEvery = try c.decodeIfPresent(Int.self, forKey: .logEvery) ?? d.logEvery
        backend = try c.decodeIfPresent(String.self, forKey: .backend) ?? d.backend
        precision = try c.decodeIfPresent(MatmulPrecision.self, forKey: .precision) ?? d.precision
        tensorFloat32 = try c.decodeIfPresent(Bool.self, forKey: .tensorFloat32) ?? d.tensorFloat32
        optimizer = try c.decodeIfPresent(OptimizerSection.self, forKey: .optimizer) ?? d.optimizer
        schedule = try c.decodeIfPresent(ScheduleSection.self, forKey: .schedule) ?? d.schedule
        lossWeights = try c.decodeIfPresent(TaskWeights.self, forKey: .lossWeights) ?? d.lossWeights
    }
}

/// A number per task name (`training.loss_weights`), kept in name order so that a config
/// prints, and compares, the same however its file orders them.
public struct TaskWeights: Codable, Sendable, Equatable {
    public private(set) var names: [String] = []
    public private(set) var weights: [Double] = []

    public init(_ values: [String: Double] = [:]) {
        for (name, weight) in values.sorted(by: { $0.key < $1.key }) {
            names.append(name)
            weights.append(weight)
        }
    }

    /// The weight of the task `name`, if the config names it.
    public subscript(name: String) -> Double? { names.firstIndex(of: name).map { weights[$0] } }

    public var isEmpty: Bool { names.isEmpty }

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: Decoder) throws {
        self.init(try decoder.singleValueContainer().decode([String: Double].self))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        for (name, weight) in zip(names, weights) { try c.encode(weight, forKey: Key(stringValue: name)) }
    }
}

public struct OptimizerSection: Codable, Sendable, Equatable {
    public var algorithm: OptimizerAlgorithm = .adagrad
    public var learningRate = 0.01
    /// Defaults: 1e-10 for SGD/Adagrad, 1e-8 for Adam.
    public var epsilon: Double?
    public var beta1 = 0.9
    public var beta2 = 0.999
    public var initialAccumulator = 0.0
    /// How the optimizer state of bf16 tables is stored: `fp32`, or `bf16` (written back by
    /// stochastic rounding, as the rows are).
    public var tableStatePrecision: TablePrecision = .fp32

    enum CodingKeys: String, CodingKey, CaseIterable {
        case algorithm
        case learningRate = "learning_rate"
        case epsilon, beta1, beta2
        case initialAccumulator = "initial_accumulator"
        case tableStatePrecision = "table_state_precision"
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = OptimizerSection()
        algorithm = try c.decodeIfPresent(OptimizerAlgorithm.self, forKey: .algorithm) ?? d.algorithm
        learningRate = try c.decodeIfPresent(Double.self, forKey: .learningRate) ?? d.learningRate
        epsilon = try c.decodeIfPresent(Double.self, forKey: .epsilon)
        beta1 = try c.decodeIfPresent(Double.self, forKey: .beta1) ?? d.beta1
        beta2 = try c.decodeIfPresent(Double.self, forKey: .beta2) ?? d.beta2
        initialAccumulator = try c.decodeIfPresent(Double.self, forKey: .initialAccumulator) ?? d.initialAccumulator
        tableStatePrecision = try c.decodeIfPresent(TablePrecision.self, forKey: .tableStatePrecision) ?? d.tableStatePrecision
    }
}

public struct ScheduleSection: Codable, Sendable, Equatable {
    public var warmupSteps = 0
    public var decay: LearningRateSchedule.Decay = .none
    public var decayStartStep = 0
    public var decaySteps = 0
    /// The rate at the end of the decay, as a fraction of the base rate.
    public var finalScale = 0.0

    enum CodingKeys: String, CodingKey, CaseIterable {
        case warmupSteps = "warmup_steps"
        case decay
        case decayStartStep = "decay_start_step"
        case decaySteps = "decay_steps"
        case finalScale = "final_scale"
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = ScheduleSection()
        warmupSteps = try c.decodeIfPresent(Int.self, forKey: .warmupSteps) ?? d.warmupSteps
        decay = try c.decodeIfPresent(LearningRateSchedule.Decay.self, forKey: .decay) ?? d.decay
        decayStartStep = try c.decodeIfPresent(Int.self, forKey: .decayStartStep) ?? d.decayStartStep
        decaySteps = try c.decodeIfPresent(Int.self, forKey: .decaySteps) ?? d.decaySteps
        finalScale = try c.decodeIfPresent(Double.self, forKey: .finalScale) ?? d.finalScale
    }
}
