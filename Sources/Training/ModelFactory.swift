import NeuralNetwork

/// Builds the model a config describes.
public enum ModelFactory {
    public static func makeModel(_ configuration: TrainingConfiguration, batchCapacity: Int) -> RecommendationModel {
        let m = configuration.model
        let seed = UInt64(configuration.training.seed)
        switch m.architecture {
        case .dlrm:
            return DLRM(DLRMArchitecture(denseFeatureCount: configuration.data.denseFeatures, tableRowCounts: m.tableRows,
                                         embeddingDimension: m.embeddingDimension, bottomWidths: m.bottomMLP,
                                         topWidths: m.topMLP),
                        batchCapacity: batchCapacity, seed: seed)
        case .wideDeep:
            return WideDeep(WideDeepArchitecture(denseFeatureCount: configuration.data.denseFeatures,
                                                 tableRowCounts: m.tableRows, embeddingDimension: m.embeddingDimension,
                                                 deepWidths: m.deepMLP),
                            batchCapacity: batchCapacity, seed: seed)
        }
    }

    public static func optimizerSettings(_ configuration: TrainingConfiguration) -> OptimizerSettings {
        let o = configuration.training.optimizer
        return OptimizerSettings(algorithm: o.algorithm, epsilon: o.epsilon.map(Float.init),
                                 beta1: Float(o.beta1), beta2: Float(o.beta2),
                                 initialAccumulator: Float(o.initialAccumulator))
    }

    public static func schedule(_ configuration: TrainingConfiguration) -> LearningRateSchedule {
        let s = configuration.training.schedule
        return LearningRateSchedule(baseRate: Float(configuration.training.optimizer.learningRate),
                                    warmupSteps: s.warmupSteps, decay: s.decay, decayStartStep: s.decayStartStep,
                                    decaySteps: s.decaySteps, finalScale: Float(s.finalScale))
    }
}
