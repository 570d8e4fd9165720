import ArgumentParser
import DataPipeline
import Datasets
import Distributed
import Foundation
import Training

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write synthetic Criteo click logs (TSV, optionally gzip) with a planted model, of any size.",
        discussion: """
            Line i is the same whoever writes it: under `mpirun -np N` rank r writes lines \
            [r*L/N, (r+1)*L/N) to OUTPUT/part-<r>-of-<N>.tsv, so the files concatenated in rank \
            order are the bytes one process writes. Fields follow Zipf laws over Criteo \
            Terabyte's (or Kaggle's, or given) cardinalities; labels come from a planted model \
            whose held-out AUC, printed at the end and stored in OUTPUT/generate.json, is the \
            ceiling a trained model can reach. Memory is O(1) in the number of lines and values.
            """)

    @Option(help: "Folder for the files.") var output: String
    @Option(help: "Lines in all (all ranks together).") var lines: Int
    @Option(help: "terabyte, kaggle, or 26 comma-separated counts of distinct values per field.") var cardinalities = "terabyte"
    @Option(help: "Seed of the planted model and of every line.") var seed = 7
    @Option(help: "Exponent of the Zipf laws.") var zipfExponent = 1.05
    @Flag(help: "Write gzip (.tsv.gz) files.") var gzip = false
    @OptionGroup var outputOptions: OutputOptions

    func validate() throws {
        guard lines >= 1 else { throw ValidationError("--lines must be at least 1") }
        guard zipfExponent > 0 else { throw ValidationError("--zipf-exponent must be positive") }
        _ = try fieldCardinalities()
    }

    func fieldCardinalities() throws -> [Int] {
        switch cardinalities {
        case "terabyte": return ClickLogGenerator.terabyteCardinalities
        case "kaggle": return ClickLogGenerator.kaggleCardinalities
        default:
            let counts = cardinalities.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard counts.count == 26, counts.allSatisfy({ ($0 ?? 0) >= 1 && ($0 ?? 0) <= Int(UInt32.max) }) else {
                throw ValidationError("--cardinalities: terabyte, kaggle, or 26 comma-separated counts in 1...\(UInt32.max)")
            }
            return counts.map { $0! }
        }
    }

    func run() throws {
        let communicator = try worldCommunicator()
        defer { MPICommunicator.finalize() }
        let console = Console(format: outputOptions.format, isRoot: communicator.isRoot)
        let (rank, ranks) = (communicator.rank, communicator.size)
        var settings = ClickLogGenerator.Settings()
        settings.cardinalities = try fieldCardinalities()
        settings.zipfExponent = zipfExponent
        settings.seed = UInt64(seed)
        let generator = ClickLogGenerator(settings)
        let first = rank * lines / ranks, last = (rank + 1) * lines / ranks
        let path = "\(output)/part-\(rank)-of-\(ranks).tsv" + (gzip ? ".gz" : "")
        var metrics = PlantedMetrics()
        let started = Date()
        do {
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
            let writer = try ClickLogFileWriter(path: path)
            // Lines and bytes of every rank together, shown by rank 0.
            let meter = ReadProgress(output: console.dataProgress, sharing: RankProgressSharing(communicator: communicator))
            meter.begin("generate", total: lines, unit: .lines)
            var block: [UInt8] = []
            block.reserveCapacity(1 << 22)
            var blockStart = first
            for index in first..<last {
                let (logit, label) = generator.appendLine(index, to: &block)
                metrics.add(logit: logit, label: label)
                guard block.count >= 1 << 22 || index == last - 1 else { continue }
                try writer.write(block)
                meter.advance(bytes: block.count, lines: index + 1 - blockStart)
                blockStart = index + 1
                block.removeAll(keepingCapacity: true)
            }
            try writer.finish()
            try meter.end()
            let seconds = Date().timeIntervalSince(started)
            let totals = try communicator.allReduceSum(metrics.counts + [metrics.logLossSum, Double(writer.bytesWritten), seconds])
            var all = PlantedMetrics()
            all.counts = Array(totals.prefix(metrics.counts.count))
            all.logLossSum = totals[metrics.counts.count]
            let bytes = totals[metrics.counts.count + 1], rankSeconds = totals[metrics.counts.count + 2] / Double(ranks)
            let summary: [String: Any] = [
                "lines": lines, "ranks": ranks, "files": (0..<ranks).map { "part-\($0)-of-\(ranks).tsv" + (gzip ? ".gz" : "") },
                "uncompressed_bytes": Int(bytes), "seconds_per_rank": rankSeconds,
                "mb_per_second_per_rank": bytes / Double(ranks) / rankSeconds / 1e6,
                "planted_auc": all.auc, "planted_logloss": all.logLoss, "seed": seed, "zipf_exponent": zipfExponent,
                "cardinalities": settings.cardinalities,
            ]
            if communicator.isRoot {
                let json = try JSONSerialization.data(withJSONObject: summary, options: [.prettyPrinted, .sortedKeys])
                try json.write(to: URL(fileURLWithPath: "\(output)/generate.json"))
            }
            console.result(text: """
                wrote \(lines) lines (\(Training.format(bytes / 1e6, 1)) MB) to \(output) from \(ranks) rank(s) in \
                \(Training.format(rankSeconds, 1)) s: \(Training.format(bytes / Double(ranks) / rankSeconds / 1e6, 1)) MB/s per rank
                planted model: AUC \(Training.format(all.auc, 4))  logloss \(Training.format(all.logLoss, 4)) (the ceiling of a trained model)
                """, json: summary)
        } catch {
            endJob(after: error, console: console, communicator: communicator)
        }
    }
}
