import ArgumentParser
import DataPipeline
import Foundation
import Training

struct Preprocess: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Turn the raw Criteo TSV files of a config into record files for training.",
        discussion: """
            Writes OUTPUT/train.rsd and OUTPUT/eval.rsd (the binary record format, see README) and \
            OUTPUT/stats.json (lines, bad lines, split, table sizes, frequency statistics). Train on \
            them with --set data.source=records --set data.path=OUTPUT.
            """)

    @Option(help: "The YAML config whose data section names the raw files.") var config: String
    @Option(help: "Folder for the record files.") var output: String
    @Option(name: .customLong("set"), help: ArgumentHelp("Override a config key.", valueName: "key=value"))
    var overrides: [String] = []
    @Flag(help: "Skip malformed lines (and count them) instead of stopping at the first.") var skipBadLines = false

    func run() throws {
        let configuration = try loadConfiguration(path: config, overrides: overrides + (skipBadLines ? ["data.skip_bad_lines=true"] : []))
        guard configuration.data.source == .criteoTSV else {
            throw ValidationError("\(config): preprocess reads data.source criteo_tsv, not \(configuration.data.source.rawValue)")
        }
        do {
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
            let dense = CriteoLineParser.denseCount, bags = Array(repeating: 1, count: CriteoLineParser.categoricalCount)
            let train = try RecordWriter(path: "\(output)/train.rsd", denseCount: dense, bagSizes: bags)
            let eval = try RecordWriter(path: "\(output)/eval.rsd", denseCount: dense, bagSizes: bags)
            let started = Date()
            let statistics = try CriteoPreprocessing.run(paths: configuration.data.path,
                                                         settings: DataSplits.criteoSettings(configuration),
                                                         train: train, eval: eval) { print($0) }
            try train.finish()
            try eval.finish()
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(statistics).write(to: URL(fileURLWithPath: "\(output)/stats.json"))
            let seconds = Date().timeIntervalSince(started)
            print("\(statistics.lines) lines in \(Training.format(seconds, 2)) s: \(statistics.trainRecords) train, "
                  + "\(statistics.evalRecords) held-out records" + (statistics.badLines > 0 ? ", \(statistics.badLines) bad lines skipped" : ""))
            print("wrote \(output)/train.rsd, \(output)/eval.rsd, \(output)/stats.json")
        } catch let error as DataError {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }
}
