import ArgumentParser
import Datasets
import Distributed
import Foundation
import Training

struct Preprocess: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Turn the raw data files of a config (criteo_tsv or delimited) into record files for training.",
        discussion: """
            Writes OUTPUT/train.rsd and OUTPUT/eval.rsd (the binary record format, see README) and \
            OUTPUT/stats.json (lines, bad lines, split, table sizes, and for Criteo frequency \
            statistics) and OUTPUT/held_out_lines.tsv (file and line of each held-out record). \
            Train on them with --set data.source=records --set data.path=OUTPUT. Under mpirun -np N \
            (or with --shards) the files are cut into pieces shared out over the ranks, each written \
            to OUTPUT/train-NNNNN.rsd and eval-NNNNN.rsd with OUTPUT/index.json: the same bytes on any \
            number of ranks.
            """)

    @OptionGroup var configOptions: ConfigOptions
    @Option(help: "Folder for the record files.") var output: String
    @Flag(help: "Skip malformed lines (and count them) instead of stopping at the first.") var skipBadLines = false
    @Flag(help: "Write record shards piece by piece, as several ranks do (implied under mpirun -np N > 1); criteo_tsv only.")
    var shards = false
    @Option(help: "With shards: the size in MB of the pieces plain files are cut into.") var pieceMb = 256.0

    func validate() throws {
        guard pieceMb >= 0.01 else { throw ValidationError("--piece-mb must be at least 0.01") }
    }

    func run() throws {
        let communicator = try worldCommunicator()
        defer { MPICommunicator.finalize() }
        let configuration = try configOptions.load(adding: skipBadLines ? ["data.skip_bad_lines=true"] : [])
        let console = Console(format: .text, isRoot: communicator.isRoot)
        do {
            let started = Date()
            let say = console.progress
            let result = communicator.size > 1 || shards
                ? try ShardedPreprocessing.run(configuration, output: output, communicator: communicator, pieceBytes: Int(pieceMb * 1_048_576),
                                               progress: console.dataProgress)
                : try RecordPreprocessing.run(configuration, output: output, progress: console.dataProgress)
            say("\(result.summary) in \(Training.format(Date().timeIntervalSince(started), 2)) s")
            for note in result.notes { say(note) }
            say("wrote \(result.files.prefix(6).joined(separator: ", "))\(result.files.count > 6 ? " …" : "") "
                + "(held_out_lines.tsv: file and line of each held-out record)")
        } catch {
            endJob(after: configOptions.located(error), console: console, communicator: communicator)
        }
    }
}
