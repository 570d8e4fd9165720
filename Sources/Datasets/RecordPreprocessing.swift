import Checkpointing
import Configuration
import DataPipeline
import Foundation

/// `recsys-dist preprocess`: the raw files of a `criteo_tsv` or `delimited` config parsed once
/// into record files, with what was done beside them.
public enum RecordPreprocessing {
    public struct Result: Sendable {
        /// "N lines: T train, H held-out records[, B bad lines skipped]".
        public var summary: String
        /// The files written.
        public var files: [String]
        /// Lines worth reading after the summary (table sizes against the data).
        public var notes: [String] = []
    }

    /// Writes `output/train.rsd`, `eval.rsd`, `stats.json` and `held_out_lines.tsv` (file and
    /// line of every held-out record, so a baseline can be scored on the same rows), replacing
    /// a previous output whole once all are written (`PreprocessOutput`).
    public static func run(_ configuration: TrainingConfiguration, output: String,
                           progress: ProgressOutput = .silent) throws -> Result {
        let folder = try PreprocessOutput(output: output)
        try folder.create()
        do {
            let result = try write(configuration, output: folder.staging, progress: progress)
            try folder.commit()
            return Result(summary: result.summary, files: result.files.map { "\(output)/\($0)" }, notes: result.notes)
        } catch {
            folder.discard()
            throw error
        }
    }

    /// Writes the files into `output`; returns the summary and the files' names.
    private static func write(_ configuration: TrainingConfiguration, output: String, progress: ProgressOutput) throws -> Result {
        let data = configuration.data, tableRows = configuration.model.recordTableRows, mapping = data.resolvedValueMapping
        var heldOutLines: [UInt8] = []
        func heldOut(_ path: String, _ line: Int) { heldOutLines += Array("\(path)\t\(line)\n".utf8) }
        func writers(denseCount: Int, bagSizes: [Int]) throws -> (RecordWriter, RecordWriter) {
            (try RecordWriter(path: "\(output)/train.rsd", tasks: data.tasks, denseCount: denseCount, bagSizes: bagSizes,
                              tableRows: tableRows, valueMapping: mapping),
             try RecordWriter(path: "\(output)/eval.rsd", tasks: data.tasks, denseCount: denseCount, bagSizes: bagSizes,
                              tableRows: tableRows, valueMapping: mapping))
        }
        let statistics: Encodable
        let counts: (lines: Int, bad: Int, train: Int, eval: Int)
        var emptyValues = "", notes: [String] = []
        switch data.source {
        case .criteoTSV:
            let (train, eval) = try writers(denseCount: CriteoLineParser.denseCount,
                                            bagSizes: Array(repeating: 1, count: CriteoLineParser.categoricalCount))
            let result = try CriteoPreprocessing.run(paths: data.path, settings: DataSplits.criteoSettings(configuration),
                                                     train: train, eval: eval, progress: progress, heldOutLine: heldOut)
            try DataSplits.requireHeldOut(result.evalRecords, of: configuration)
            try train.finish()
            try eval.finish()
            statistics = result
            counts = (result.lines, result.badLines, result.trainRecords, result.evalRecords)
        case .delimited:
            let schema = try DataSplits.delimitedSchema(configuration)
            let (train, eval) = try writers(denseCount: schema.dense.count, bagSizes: schema.bagSizes)
            let split = DataSplits.criteoSettings(configuration).split
            let tableKeys = schema.categorical.indices.map { "categorical[\($0)]" }
            let result = try DelimitedPreprocessing.run(paths: data.path, schema: schema, tableRows: tableRows, split: split,
                                                        skipBadLines: data.skipBadLines, frequencyThreshold: data.frequencyThreshold,
                                                        valueMapping: mapping, train: train, eval: eval, progress: progress, heldOutLine: heldOut)
            try DataSplits.requireHeldOut(result.eval, of: configuration)
            try train.finish()
            try eval.finish()
            statistics = DelimitedStatistics(files: data.path + data.evalPath, lines: result.lines, badLines: result.badLines,
                                             trainRecords: result.train, evalRecords: result.eval, split: split.description,
                                             tableRows: tableRows, valueMapping: mapping, bagSizes: schema.bagSizes,
                                             emptyValues: Dictionary(uniqueKeysWithValues: zip(DataSplits.featureKeys(schema), result.emptyValues)),
                                             distinctValues: tableKeys.enumerated().reduce(into: [:]) { $0[$1.element] = result.distinctValues[$1.offset] },
                                             suggestedTableRows: tableKeys.enumerated().reduce(into: [:]) {
                                                 $0[$1.element] = DelimitedPreprocessing.Result.suggestedRows(distinct: result.distinctValues[$1.offset])
                                             })
            counts = (result.lines, result.badLines, result.train, result.eval)
            emptyValues = DataSplits.emptyValuesSummary(result.emptyValues, schema: schema)
            notes = [DataSplits.tableSizeAdvice(distinct: result.distinctValues, configuration: configuration)]
        case .synthetic, .records:
            throw ConfigurationError("key 'data.source': preprocess reads criteo_tsv or delimited data, not \(data.source.rawValue)")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(statistics).write(to: URL(fileURLWithPath: "\(output)/stats.json"))
        try Data(heldOutLines).write(to: URL(fileURLWithPath: "\(output)/held_out_lines.tsv"))
        let summary = "\(counts.lines) lines: \(counts.train) train, \(counts.eval) held-out records"
            + (counts.bad > 0 ? ", \(counts.bad) bad lines skipped" : "") + emptyValues
        return Result(summary: summary, files: ["train.rsd", "eval.rsd", "stats.json", "held_out_lines.tsv"], notes: notes)
    }
}

/// What preprocessing a delimited source did, stored beside the records.
struct DelimitedStatistics: Encodable {
    var files: [String]
    var lines: Int
    var badLines: Int
    var trainRecords: Int
    var evalRecords: Int
    var split: String
    var tableRows: [Int]
    /// The value mapping the rows were given by (`CategoricalRows`).
    var valueMapping: Int
    var bagSizes: [Int]
    /// Empty values of the good lines per feature (`dense[0]`, `categorical[3]`, ...).
    var emptyValues: [String: Int]
    /// Distinct values per categorical feature, and the table rows that would hold them.
    var distinctValues: [String: Int]
    var suggestedTableRows: [String: Int]
}
