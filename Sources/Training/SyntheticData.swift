import DataPipeline

/// The train and held-out sets a config describes.
public struct DataSplits: Sendable {
    public let train: InMemoryDataset
    public let evaluation: InMemoryDataset
}

extension DataSplits {
    /// Generates both splits from the planted click model of `data.synthetic`.
    public static func synthetic(_ configuration: TrainingConfiguration) -> DataSplits {
        let generator = syntheticGenerator(configuration)
        let s = configuration.data.synthetic
        return DataSplits(train: generator.generate(count: s.trainSamples, stream: 0),
                          evaluation: generator.generate(count: s.evalSamples, stream: 1))
    }

    /// The held-out split alone (what `evaluate` scores a saved model on).
    public static func syntheticEvaluation(_ configuration: TrainingConfiguration) -> InMemoryDataset {
        syntheticGenerator(configuration).generate(count: configuration.data.synthetic.evalSamples, stream: 1)
    }

    static func syntheticGenerator(_ configuration: TrainingConfiguration) -> SyntheticClickModel {
        let s = configuration.data.synthetic
        var settings = SyntheticClickModel.Settings()
        settings.denseFeatureCount = configuration.data.denseFeatures
        settings.tableRowCounts = configuration.model.tableRows
        settings.idsPerSample = configuration.data.idsPerSample
        settings.zipfExponent = s.zipfExponent
        settings.plantedIDsPerTable = s.plantedIDsPerTable
        settings.idEffectScale = s.idEffectScale
        settings.denseEffectScale = s.denseEffectScale
        settings.crosses = s.plantedCrosses(tableCount: configuration.model.tableCount)
        settings.crossScale = s.crossScale
        settings.seed = UInt64(s.seed)
        return SyntheticClickModel(settings)
    }
}
