import Backends
import Compute
import Configuration
import Distributed
import Models
import NeuralNetwork

/// Builds the model a config describes.
public enum ModelFactory {
    /// The tables are made by `embeddingFactory`.
    public static func makeModel(_ configuration: TrainingConfiguration, batchCapacity: Int,
                                 communicator: Communicator = LocalCommunicator()) throws -> RecommendationModel {
        let d = configuration.distributed
        let makeEmbeddings = embeddingFactory(d, hasDynamicTables: !configuration.model.dynamicTables.isEmpty,
                                              communicator: communicator)
        return try makeModel(configuration, batchCapacity: batchCapacity, makeEmbeddings: makeEmbeddings)
    }

    /// Where tables live: all in this process with one rank, else placed by `distributed` and
    /// looked up through all-to-all. Dynamic tables are always sharded (their rows are found by
    /// key at their owner, one rank included).
    public static func embeddingFactory(_ distributed: DistributedSection, hasDynamicTables: Bool,
                                        communicator: Communicator) -> EmbeddingFactory {
        guard communicator.size > 1 || hasDynamicTables else { return LocalEmbeddings.make }
        return ShardedEmbeddings.factory(communicator: communicator, strategy: distributed.sharding,
                                         replicateMaxRows: distributed.replicateMaxRows, rowWiseMinRows: distributed.rowWiseMinRows,
                                         exchangeFormat: distributed.exchangePrecision.format)
    }

    /// `makeEmbeddings` with the config's dynamic rules written into every specification over
    /// the model's features (tables numbered as the features).
    public static func withDynamicRules(_ rules: [DynamicTableRule?], _ makeEmbeddings: @escaping EmbeddingFactory) -> EmbeddingFactory {
        guard !rules.isEmpty else { return makeEmbeddings }
        return { specification, backend, batchCapacity, sameFeaturesAs in
            var specification = specification
            if specification.tableRowCounts.count == rules.count { specification.dynamicTables = rules }
            return try makeEmbeddings(specification, backend, batchCapacity, sameFeaturesAs)
        }
    }

    /// `makeEmbeddings` with every table storing its rows in `precision`.
    public static func withTablePrecision(_ precision: TablePrecision, _ makeEmbeddings: @escaping EmbeddingFactory) -> EmbeddingFactory {
        guard precision != .fp32 else { return makeEmbeddings }
        return { specification, backend, batchCapacity, sameFeaturesAs in
            var specification = specification
            specification.precision = precision
            return try makeEmbeddings(specification, backend, batchCapacity, sameFeaturesAs)
        }
    }

    /// The model of a config with its tables made by `makeEmbeddings`, on the config's backend:
    /// the architecture's definition builds it.
    public static func makeModel(_ configuration: TrainingConfiguration, batchCapacity: Int,
                                 makeEmbeddings: @escaping EmbeddingFactory) throws -> RecommendationModel {
        let m = configuration.model
        let makeEmbeddings = withTablePrecision(m.tablePrecision, withDynamicRules(m.dynamicRules, makeEmbeddings))
        let seed = UInt64(configuration.training.seed)
        let backend = try BackendRegistry.make(configuration.training.backend, precision: configuration.training.precision,
                                               tensorFloat32: configuration.training.tensorFloat32)
        return try m.definition.makeModel(configuration.modelShape, batchCapacity: batchCapacity,
                                          seed: seed, backend: backend, makeEmbeddings: makeEmbeddings)
    }

    public static func optimizerSettings(_ configuration: TrainingConfiguration) -> OptimizerSettings {
        let o = configuration.training.optimizer
        return OptimizerSettings(algorithm: o.algorithm, epsilon: o.epsilon.map(Float.init),
                                 beta1: Float(o.beta1), beta2: Float(o.beta2),
                                 initialAccumulator: Float(o.initialAccumulator), roundingSeed: UInt64(configuration.training.seed),
                                 tableStatePrecision: o.tableStatePrecision)
    }

    public static func schedule(_ configuration: TrainingConfiguration) -> LearningRateSchedule {
        let s = configuration.training.schedule
        return LearningRateSchedule(baseRate: Float(configuration.training.optimizer.learningRate),
                                    warmupSteps: s.warmupSteps, decay: s.decay, decayStartStep: s.decayStartStep,
                                    decaySteps: s.decaySteps, finalScale: Float(s.finalScale))
    }
}

/// Embedding tables described but not held: for reading a model's layout (its dense parameters
/// and table names and sizes) without allocating the tables, as `inspect` does.
final class UnallocatedEmbeddings: EmbeddingCollection {
    let specification: EmbeddingSpecification
    let localTables: [EmbeddingTable] = []

    init(_ specification: EmbeddingSpecification) { self.specification = specification }

    func forward(_ batch: DeviceBatch, output: DeviceSlice<Float>, layout: PooledLayout) throws {
        preconditionFailure("UnallocatedEmbeddings holds no rows to look up")
    }

    func forwardSum(_ batch: DeviceBatch, output: DeviceSlice<Float>) throws {
        preconditionFailure("UnallocatedEmbeddings holds no rows to look up")
    }

    func backward(_ batch: DeviceBatch, outputGradient: DeviceSlice<Float>, layout: PooledLayout, mode: EmbeddingBackwardMode) throws {
        preconditionFailure("UnallocatedEmbeddings holds no rows to update")
    }
}

extension ModelFactory {
    /// The model a config describes with its tables left unallocated (dense layout and table
    /// sizes only).
    public static func makeLayout(_ configuration: TrainingConfiguration) throws -> RecommendationModel {
        try makeModel(configuration, batchCapacity: 1) { specification, _, _, _ in UnallocatedEmbeddings(specification) }
    }
}
