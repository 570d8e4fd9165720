import Checkpointing
import Configuration
import DataPipeline
import Distributed
import Foundation

/// `preprocess` on N ranks (or with `--shards`): the raw Criteo files cut into pieces (whole
/// gzip files, byte ranges of plain ones), the pieces shared out over the ranks in order, each
/// written to its own record shards. The pieces depend on the files and the piece size only, so
/// the shards' bytes are the same whatever N.
///
/// Two passes: every rank counts the lines of its pieces, and the counts, summed over the ranks,
/// place each piece's first line among all lines (the split holds lines out by that position)
/// and in its file (for messages and `held_out_lines.tsv`); then every rank writes its pieces.
/// Rank 0 writes `index.json` (the shards in order, with their lines and records), `stats.json`
/// and `held_out_lines.tsv`. Memory per rank: one read chunk and one record block per writer;
/// with a frequency threshold, pass 1 also counts values (`PieceValueCounting`: one piece's
/// values, the rank's 1/N share of all distinct values, and the set of frequent values).
public enum ShardedPreprocessing {
    /// The index of a folder of record shards.
    public struct Index: Codable, Sendable, Equatable {
        public struct Piece: Codable, Sendable, Equatable {
            public var file: String
            public var firstByte: Int?
            public var endByte: Int?
            public var lines: Int
            public var train: String
            public var eval: String
            public var trainRecords: Int
            public var evalRecords: Int
        }
        public var format = "recsys-dist record shards"
        public var version = 1
        public var pieces: [Piece]

        public var trainShards: [String] { pieces.map(\.train) }
        public var evalShards: [String] { pieces.map(\.eval) }
    }

    public static let indexName = "index.json"

    /// Every rank writes its pieces into a staging folder that replaces `output` whole once all
    /// are written, or is removed on a failure (`PreprocessOutput`).
    public static func run(_ configuration: TrainingConfiguration, output: String, communicator: Communicator,
                           pieceBytes: Int, progress: ProgressOutput = .silent) throws -> RecordPreprocessing.Result {
        let folder = try PreprocessOutput(output: output)
        if communicator.isRoot { try folder.create() }
        do {
            try communicator.barrier()
            let result = try write(configuration, output: folder.staging, communicator: communicator, pieceBytes: pieceBytes,
                                   progress: progress)
            if communicator.isRoot { try folder.commit() }
            try communicator.barrier()
            return RecordPreprocessing.Result(summary: result.summary, files: result.files.map { "\(output)/\($0)" })
        } catch {
            if communicator.isRoot { folder.discard() }
            throw error
        }
    }

    /// Writes the pieces into `output`; returns the summary and the files' names.
    private static func write(_ configuration: TrainingConfiguration, output: String, communicator: Communicator,
                              pieceBytes: Int, progress: ProgressOutput) throws -> RecordPreprocessing.Result {
        let data = configuration.data
        guard data.source == .criteoTSV else {
            throw ConfigurationError("key 'data.source': preprocessing in pieces (several ranks, or --shards) reads criteo_tsv data, "
                                     + "not \(data.source.rawValue)")
        }
        let settings = DataSplits.criteoSettings(configuration)
        var evalPaths: [String] = []
        if case .files(let files) = settings.split { evalPaths = files }
        let units = try CriteoPreprocessing.units(paths: data.path, evalPaths: evalPaths, pieceBytes: pieceBytes)
        let (rank, ranks) = (communicator.rank, communicator.size)
        let mine = (rank * units.count / ranks)..<((rank + 1) * units.count / ranks)
        // Progress of every rank together, shown by rank 0.
        let meter = ReadProgress(output: progress, sharing: RankProgressSharing(communicator: communicator))
        let inputBytes = units.reduce(0) { $0 + $1.size }

        // Pass 1: lines per piece, and with a frequency threshold the values' counts.
        var lineCounts = [Double](repeating: 0, count: units.count)
        var counted: PieceValueCounting.Result?
        if settings.frequencyThreshold > 0 {
            meter.begin("counting lines and categorical values", totalBytes: inputBytes)
            counted = try PieceValueCounting.run(units: units, mine: mine, settings: settings, communicator: communicator, meter: meter)
            lineCounts = counted!.lines.map(Double.init)
        } else {
            meter.begin("counting lines", totalBytes: inputBytes)
            for u in mine { lineCounts[u] = Double(try CriteoPreprocessing.countLines(of: units[u], progress: meter)) }
        }
        try meter.end()
        let lines = try communicator.allReduceSum(lineCounts).map { Int($0) }
        var firstLine = [Int](repeating: 0, count: units.count), firstLineNumber = [Int](repeating: 1, count: units.count)
        var trainLines = 0
        for (u, unit) in units.enumerated() {
            firstLine[u] = trainLines
            if !unit.isHeldOut { trainLines += lines[u] }
            if u > 0 && units[u - 1].path == unit.path { firstLineNumber[u] = firstLineNumber[u - 1] + lines[u - 1] }
        }
        if trainLines == 0 { throw DataError("\(data.path.joined(separator: ", ")): no lines") }
        let selection = settings.split.selection(lineCount: trainLines)

        // Pass 2: each piece's records.
        let tableRows = configuration.model.recordTableRows, bags = Array(repeating: 1, count: CriteoLineParser.categoricalCount)
        var counts = [Double](repeating: 0, count: 4 * units.count)
        meter.begin("writing records", totalBytes: inputBytes)
        for u in mine {
            let train = try RecordWriter(path: "\(output)/\(shardName("train", u))", denseCount: CriteoLineParser.denseCount,
                                         bagSizes: bags, tableRows: tableRows, valueMapping: settings.valueMapping)
            let eval = try RecordWriter(path: "\(output)/\(shardName("eval", u))", denseCount: CriteoLineParser.denseCount,
                                        bagSizes: bags, tableRows: tableRows, valueMapping: settings.valueMapping)
            var heldOut: [UInt8] = []
            let written = try CriteoPreprocessing.preprocess(unit: units[u], firstLine: firstLine[u], firstLineNumber: firstLineNumber[u],
                                                             selection: selection, settings: settings, frequent: counted?.frequent,
                                                             train: train, eval: eval,
                                                             progress: meter) { path, line in heldOut += Array("\(path)\t\(line)\n".utf8) }
            try train.finish()
            try eval.finish()
            try Data(heldOut).write(to: URL(fileURLWithPath: "\(output)/\(shardName("held_out_lines", u, extension: "tsv"))"))
            counts.replaceSubrange((4 * u)..<(4 * u + 4),
                                   with: [written.lines, written.badLines, written.trainRecords, written.evalRecords].map(Double.init))
        }
        try meter.end()
        let totals = try communicator.allReduceSum(counts).map { Int($0) }
        let evalRecords = stride(from: 3, to: totals.count, by: 4).reduce(0) { $0 + totals[$1] }
        try DataSplits.requireHeldOut(evalRecords, of: configuration)
        let index = Index(pieces: units.enumerated().map { u, unit in
            Index.Piece(file: unit.path, firstByte: unit.byteRange?.lowerBound, endByte: unit.byteRange?.upperBound,
                        lines: totals[4 * u], train: shardName("train", u), eval: shardName("eval", u),
                        trainRecords: totals[4 * u + 2], evalRecords: totals[4 * u + 3])
        })
        let lineTotal = index.pieces.reduce(0) { $0 + $1.lines }, bad = stride(from: 1, to: totals.count, by: 4).reduce(0) { $0 + totals[$1] }
        let trainRecords = index.pieces.reduce(0) { $0 + $1.trainRecords }
        if rank == 0 {
            // The held-out lines of every piece, in order, as one file.
            let heldOutPath = "\(output)/held_out_lines.tsv"
            guard FileManager.default.createFile(atPath: heldOutPath, contents: nil) else { throw FileSystemError(path: heldOutPath, reason: "cannot create") }
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: heldOutPath))
            for u in units.indices {
                let piece = "\(output)/\(shardName("held_out_lines", u, extension: "tsv"))"
                try handle.write(contentsOf: try Data(contentsOf: URL(fileURLWithPath: piece)))
                try FileManager.default.removeItem(atPath: piece)
            }
            try handle.close()
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.keyEncodingStrategy = .convertToSnakeCase
            try encoder.encode(index).write(to: URL(fileURLWithPath: "\(output)/\(indexName)"))
            let statistics = CriteoPreprocessing.Statistics(files: data.path + evalPaths, lines: lineTotal, badLines: bad,
                                                            trainRecords: trainRecords, evalRecords: evalRecords,
                                                            split: settings.split.description, tableRows: tableRows,
                                                            frequencyThreshold: settings.frequencyThreshold, valueMapping: settings.valueMapping,
                                                            distinctValues: counted?.distinctValues, rareValues: counted?.rareValues)
            // stats.json in the keys of the single-file path's.
            encoder.keyEncodingStrategy = .useDefaultKeys
            try encoder.encode(statistics).write(to: URL(fileURLWithPath: "\(output)/stats.json"))
        }
        try communicator.barrier()
        let summary = "\(lineTotal) lines: \(trainRecords) train, \(evalRecords) held-out records"
            + (bad > 0 ? ", \(bad) bad lines skipped" : "") + " in \(units.count) pieces on \(ranks) rank(s)"
        return RecordPreprocessing.Result(summary: summary, files: [indexName, "stats.json", "held_out_lines.tsv"]
                                          + index.pieces.flatMap { [$0.train, $0.eval] })
    }

    /// "train-00012.rsd" and the like.
    static func shardName(_ kind: String, _ piece: Int, extension: String = "rsd") -> String {
        "\(kind)-\(String(format: "%05d", piece)).\(`extension`)"
    }
}
