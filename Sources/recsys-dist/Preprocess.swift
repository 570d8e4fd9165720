import ArgumentParser
import Foundation
import Training

struct Preprocess: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Turn the raw data files of a config (criteo_tsv or delimited) into record files for training.",
        discussion: """
            Writes OUTPUT/train.rsd and OUTPUT/eval.rsd (the binary record format, see README) and \
            OUTPUT/stats.json (lines, bad lines, split, table sizes, and for Criteo frequency \
            statistics) and OUTPUT/held_out_lines.tsv (file and line of each held-out record). \
            Train on them with --set data.source=records --set data.path=OUTPUT.
            """)

    @OptionGroup var configOptions: ConfigOptions
    @Option(help: "Folder for the record files.") var output: String
    @Flag(help: "Skip malformed lines (and count them) instead of stopping at the first.") var skipBadLines = false

    func run() throws {
        let configuration = try configOptions.load(adding: skipBadLines ? ["data.skip_bad_lines=true"] : [])
        do {
            let started = Date()
            let result = try RecordPreprocessing.run(configuration, output: output) { print($0) }
            print("\(result.summary) in \(Training.format(Date().timeIntervalSince(started), 2)) s")
            print("wrote \(result.files.joined(separator: ", ")) (held_out_lines.tsv: file and line of each held-out record)")
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }
}
