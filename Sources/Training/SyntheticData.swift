import DataPipeline

/// The train and held-out sets a config describes.
public struct DataSplits: Sendable {
    public let train: InMemoryDataset
    public let evaluation: InMemoryDataset
}

extension DataSplits {
    /// Generates both splits from the planted click model of `data.synthetic`.
    public static func synthetic(_ configuration: TrainingConfiguration) -> DataSplits {
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
        let generator = SyntheticClickModel(settings)
        return DataSplits(train: generator.generate(count: s.trainSamples, stream: 0),
                          evaluation: generator.generate(count: s.evalSamples, stream: 1))
    }
}
