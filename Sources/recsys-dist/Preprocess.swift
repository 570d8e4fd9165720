import ArgumentParser
import DataPipeline
import Foundation
import Training

struct Preprocess: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Turn the raw data files of a config (criteo_tsv or delimited) into record files for training.",
        discussion: """
            Writes OUTPUT/train.rsd and OUTPUT/eval.rsd (the binary record format, see README) and \
            OUTPUT/stats.json (lines, bad lines, split, table sizes, and for Criteo frequency \
            statistics). Train on them with --set data.source=records --set data.path=OUTPUT.
            """)

    @OptionGroup var configOptions: ConfigOptions
    @Option(help: "Folder for the record files.") var output: String
    @Flag(help: "Skip malformed lines (and count them) instead of stopping at the first.") var skipBadLines = false

    func run() throws {
        let configuration = try configOptions.load(adding: skipBadLines ? ["data.skip_bad_lines=true"] : [])
        let data = configuration.data
        do {
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
            let started = Date()
            // Which lines went to the held-out part, so a baseline can be scored on the same rows.
            var heldOutLines: [UInt8] = []
            func heldOut(_ path: String, _ line: Int) { heldOutLines += Array("\(path)\t\(line)\n".utf8) }
            let statistics: Encodable
            let summary: String
            switch data.source {
            case .criteoTSV:
                let dense = CriteoLineParser.denseCount, bags = Array(repeating: 1, count: CriteoLineParser.categoricalCount)
                let (train, eval) = try writers(denseCount: dense, bagSizes: bags, tableRows: configuration.model.tableRows)
                let result = try CriteoPreprocessing.run(paths: data.path, settings: DataSplits.criteoSettings(configuration),
                                                         train: train, eval: eval, progress: { print($0) }, heldOutLine: heldOut)
                try DataSplits.requireHeldOut(result.evalRecords, of: configuration)
                try train.finish()
                try eval.finish()
                statistics = result
                summary = "\(result.lines) lines: \(result.trainRecords) train, \(result.evalRecords) held-out records"
                    + (result.badLines > 0 ? ", \(result.badLines) bad lines skipped" : "")
            case .delimited:
                let schema = try DataSplits.delimitedSchema(configuration)
                let (train, eval) = try writers(denseCount: schema.dense.count, bagSizes: schema.bagSizes,
                                                tableRows: configuration.model.tableRows)
                let result = try DelimitedPreprocessing.run(paths: data.path, schema: schema, tableRows: configuration.model.tableRows,
                                                            split: DataSplits.criteoSettings(configuration).split,
                                                            skipBadLines: data.skipBadLines, frequencyThreshold: data.frequencyThreshold,
                                                            train: train, eval: eval, heldOutLine: heldOut)
                try DataSplits.requireHeldOut(result.eval, of: configuration)
                try train.finish()
                try eval.finish()
                statistics = DelimitedStatistics(files: data.path + data.evalPath, lines: result.lines, badLines: result.badLines,
                                                 trainRecords: result.train, evalRecords: result.eval,
                                                 split: DataSplits.criteoSettings(configuration).split.description,
                                                 tableRows: configuration.model.tableRows, bagSizes: schema.bagSizes)
                summary = "\(result.lines) lines: \(result.train) train, \(result.eval) held-out records"
                    + (result.badLines > 0 ? ", \(result.badLines) bad lines skipped" : "")
            case .synthetic, .records:
                throw DataError("\(configOptions.config): preprocess reads data.source criteo_tsv or delimited, not \(data.source.rawValue)")
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(statistics).write(to: URL(fileURLWithPath: "\(output)/stats.json"))
            try Data(heldOutLines).write(to: URL(fileURLWithPath: "\(output)/held_out_lines.tsv"))
            print("\(summary) in \(Training.format(Date().timeIntervalSince(started), 2)) s")
            print("wrote \(output)/train.rsd, \(output)/eval.rsd, \(output)/stats.json, \(output)/held_out_lines.tsv (file and line of each held-out record)")
        } catch let error as DataError {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode.failure
        } catch let error as ConfigurationError {
            FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
            throw ExitCode.failure
        }
    }

    private func writers(denseCount: Int, bagSizes: [Int], tableRows: [Int]) throws -> (RecordWriter, RecordWriter) {
        (try RecordWriter(path: "\(output)/train.rsd", denseCount: denseCount, bagSizes: bagSizes, tableRows: tableRows),
         try RecordWriter(path: "\(output)/eval.rsd", denseCount: denseCount, bagSizes: bagSizes, tableRows: tableRows))
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
    var bagSizes: [Int]
}
