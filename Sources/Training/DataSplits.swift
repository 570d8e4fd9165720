import DataPipeline

/// The train and held-out sets a config describes.
public struct DataSplits: Sendable {
    public let train: SampleSource
    public let evaluation: SampleSource
    /// What was read, for the log.
    public let summary: String
}

extension DataSplits {
    /// Loads (or generates) both splits as `data` says. Every rank loads the same splits; each
    /// then reads only its slices of the batches.
    public static func load(_ configuration: TrainingConfiguration) throws -> DataSplits {
        let d = configuration.data
        switch d.source {
        case .synthetic:
            let generator = syntheticGenerator(configuration)
            let s = d.synthetic
            return DataSplits(train: generator.generate(count: s.trainSamples, stream: 0),
                              evaluation: generator.generate(count: s.evalSamples, stream: 1),
                              summary: "synthetic planted click model")
        case .criteoTSV:
            let bags = Array(repeating: 1, count: CriteoLineParser.categoricalCount)
            let train = RecordBuffer(denseCount: CriteoLineParser.denseCount, bagSizes: bags)
            let eval = RecordBuffer(denseCount: CriteoLineParser.denseCount, bagSizes: bags)
            let statistics = try CriteoPreprocessing.run(paths: d.path, settings: criteoSettings(configuration),
                                                         train: train, eval: eval)
            var summary = "Criteo TSV \(d.path.joined(separator: ", ")): \(statistics.lines) lines"
            if statistics.badLines > 0 { summary += ", \(statistics.badLines) bad lines skipped" }
            summary += "; split \(statistics.split)"
            return DataSplits(train: train.build(name: "training part of \(d.path[0])"),
                              evaluation: eval.build(name: "held-out part of \(d.path[0])"), summary: summary)
        case .records:
            let folder = d.path[0]
            let train = try RecordDataset(path: "\(folder)/train.rsd"), eval = try RecordDataset(path: "\(folder)/eval.rsd")
            for dataset in [train, eval] {
                guard dataset.denseFeatureCount == d.denseFeatures, dataset.tableCount == configuration.model.tableCount else {
                    throw DataError("\(dataset.path): records have \(dataset.denseFeatureCount) dense features and "
                                    + "\(dataset.tableCount) tables; the config has \(d.denseFeatures) and \(configuration.model.tableCount)")
                }
            }
            return DataSplits(train: train, evaluation: eval, summary: "records in \(folder)")
        }
    }

    /// The preprocessing a config asks for (table sizes, frequency threshold, split, bad lines).
    public static func criteoSettings(_ configuration: TrainingConfiguration) -> CriteoPreprocessing.Settings {
        let d = configuration.data
        var settings = CriteoPreprocessing.Settings(tableRows: configuration.model.tableRows)
        settings.frequencyThreshold = d.frequencyThreshold
        settings.skipBadLines = d.skipBadLines
        if !d.evalPath.isEmpty {
            settings.split = .files(d.evalPath)
        } else {
            settings.split = d.split == .position
                ? .position(fraction: d.evalFraction) : .random(fraction: d.evalFraction, seed: UInt64(d.splitSeed))
        }
        return settings
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
