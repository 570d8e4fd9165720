import ArgumentParser
import Benchmarks
import Foundation
import Training

struct BenchData: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-data",
        abstract: "Measure Criteo TSV parsing (MB/s, lines/s on one core) and record loading (records/s) on a generated file.")

    @Option(help: "Size of the generated Criteo-format file, in MB.") var megabytes = 1024
    @Option(help: "Folder for the generated files (removed afterwards).") var folder = NSTemporaryDirectory() + "recsys-bench-data"
    @Option(help: "Batch size of the loading measurement.") var batchSize = 2048
    @Option(help: "Training samples/s to compare loading with (e.g. from `bench`).") var trainingSamplesPerSecond: Double?

    func run() throws {
        let r = try DataThroughputBenchmark.run(megabytes: megabytes, folder: folder, batchSize: batchSize) { print($0) }
        print("parse: \(r.lines) lines, \(r.fileBytes) bytes in \(Training.format(r.parseSeconds, 2)) s: "
              + "\(Training.format(r.parseMegabytesPerSecond, 1)) MB/s, \(Int(r.parseLinesPerSecond)) lines/s (one core)")
        print("preprocess to records (parse, map ids, write): \(Training.format(r.preprocessSeconds, 2)) s, "
              + "\(Training.format(Double(r.fileBytes) / r.preprocessSeconds / 1e6, 1)) MB/s")
        var line = "load: \(r.loadedRecords) records in shuffled batches of \(batchSize) from the memory map in "
            + "\(Training.format(r.loadSeconds, 2)) s: \(Int(r.loadRecordsPerSecond)) records/s"
        if let training = trainingSamplesPerSecond {
            line += " (\(Training.format(r.loadRecordsPerSecond / training, 1))x the \(Int(training)) training samples/s)"
        }
        print(line)
    }
}
