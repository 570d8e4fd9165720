import Compute
import DataPipeline
import Foundation

/// Feeds one input to the readers of untrusted files: the Criteo TSV parser (stopping at bad
/// lines and skipping them), the delimited (CSV) reader with a schema using a label rule, a
/// log1p dense column, hashed and flag columns, and the record reader (header checks, then
/// every record filled into a batch). The first byte picks the reader; the rest is the file.
/// Every failure must be a thrown error: a crash or a hang is a bug.
enum ParserFuzzing {
    /// Where inputs are written to be read as files (memory-backed where there is one).
    static let scratch: String = {
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        let folder = "\(base)/recsys-fuzz-\(getpid())"
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return folder
    }()

    static let schema = DelimitedSchema(delimiter: UInt8(ascii: ","), hasHeader: true,
                                        label: .init(index: 0), labelRule: .init(">= 4"),
                                        dense: [(column: .init(index: 1), transform: .log1p)],
                                        categorical: [.hashed(.init(index: 2)), .flags(join: nil, columns: 3...5)], joins: [])

    static func run(_ input: UnsafeRawBufferPointer) {
        guard let selector = input.first else { return }
        let body = UnsafeRawBufferPointer(rebasing: input.dropFirst())
        switch selector % 3 {
        case 0:
            let path = write(body, name: "input.tsv")
            for skip in [false, true] {
                var settings = CriteoPreprocessing.Settings(tableRows: Array(repeating: 97, count: CriteoLineParser.categoricalCount))
                settings.skipBadLines = skip
                settings.split = .random(fraction: 0.3, seed: 1)
                _ = try? CriteoPreprocessing.run(paths: [path], settings: settings, train: sink(dense: 13, bags: Array(repeating: 1, count: 26)),
                                                 eval: sink(dense: 13, bags: Array(repeating: 1, count: 26)))
            }
        case 1:
            let path = write(body, name: "input.csv")
            for skip in [false, true] {
                _ = try? DelimitedPreprocessing.run(paths: [path], schema: schema, tableRows: [53, 3], split: .position(fraction: 0.5),
                                                    skipBadLines: skip, frequencyThreshold: skip ? 2 : 0,
                                                    train: sink(dense: 1, bags: [1, 3]), eval: sink(dense: 1, bags: [1, 3]))
            }
        default:
            readRecords(write(body, name: "input.rsd"))
        }
    }

    static func sink(dense: Int, bags: [Int]) -> RecordBuffer {
        RecordBuffer(denseCount: dense, bagSizes: bags, tableRows: bags.map { $0 == 1 ? 53 : 3 })
    }

    /// Opens a record file and fills every record into batches, as training would.
    static func readRecords(_ path: String) {
        guard let dataset = try? RecordDataset(path: path), dataset.count > 0 else { return }
        let capacity = min(dataset.count, 64)
        let batch = Batch(capacity: capacity, denseFeatureCount: dataset.denseFeatureCount, tableCount: dataset.tableCount,
                          idsPerSample: dataset.idsPerSample.max() ?? 1, taskCount: dataset.taskCount)
        let order = Array(0..<dataset.count)
        order.withUnsafeBufferPointer { order in
            for start in stride(from: 0, to: dataset.count, by: capacity) {
                _ = try? dataset.fill(batch, order: order, start: start, size: min(capacity, dataset.count - start))
            }
        }
    }

    static func write(_ bytes: UnsafeRawBufferPointer, name: String) -> String {
        let path = "\(scratch)/\(name)"
        precondition(FileManager.default.createFile(atPath: path, contents: Data(bytes)), "cannot write \(path)")
        return path
    }
}
