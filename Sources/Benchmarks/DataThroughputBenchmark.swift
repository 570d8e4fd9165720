import Compute
import DataPipeline
import Dispatch
import Foundation

/// How fast raw Criteo text is parsed and how fast records are loaded, on a generated file in
/// the Criteo format (random values, about 5% of fields empty).
public enum DataThroughputBenchmark {
    public struct Result: Sendable {
        public var fileBytes: Int
        public var lines: Int
        public var parseSeconds: Double
        public var preprocessSeconds: Double
        public var loadSeconds: Double
        public var loadedRecords: Int
        public var parseMegabytesPerSecond: Double { Double(fileBytes) / parseSeconds / 1e6 }
        public var parseLinesPerSecond: Double { Double(lines) / parseSeconds }
        public var loadRecordsPerSecond: Double { Double(loadedRecords) / loadSeconds }
    }

    public static func run(megabytes: Int, folder: String, batchSize: Int, progress: (String) -> Void) throws -> Result {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let tsv = folder + "/criteo-generated.tsv"
        progress("writing \(megabytes) MB of Criteo-format lines to \(tsv)")
        let (bytes, lines) = try writeCriteoFile(path: tsv, megabytes: megabytes)

        progress("parsing")
        let parser = CriteoLineParser()
        var label: Float = 0
        var dense = [Float](repeating: 0, count: CriteoLineParser.denseCount)
        var categorical = [Int64](repeating: 0, count: CriteoLineParser.categoricalCount)
        var checksum = 0.0
        let parseStart = DispatchTime.now()
        try dense.withUnsafeMutableBufferPointer { dense in
            try categorical.withUnsafeMutableBufferPointer { categorical in
                try LineReader(path: tsv).forEachLine { line, number in
                    try parser.parse(line, label: &label, dense: dense.baseAddress!, categorical: categorical.baseAddress!,
                                     where: { "\(tsv):\(number)" })
                    checksum += Double(label)
                }
            }
        }
        let parseSeconds = ThroughputBenchmark.seconds(since: parseStart)

        progress("preprocessing to records")
        let bags = Array(repeating: 1, count: CriteoLineParser.categoricalCount)
        var settings = CriteoPreprocessing.Settings(tableRows: Array(repeating: 100_000, count: CriteoLineParser.categoricalCount))
        let train = try RecordWriter(path: folder + "/train.rsd", denseCount: CriteoLineParser.denseCount, bagSizes: bags,
                                     tableRows: settings.tableRows)
        let eval = try RecordWriter(path: folder + "/eval.rsd", denseCount: CriteoLineParser.denseCount, bagSizes: bags,
                                    tableRows: settings.tableRows)
        let preprocessStart = DispatchTime.now()
        settings.split = .position(fraction: 0.1)
        _ = try CriteoPreprocessing.run(paths: [tsv], settings: settings, train: train, eval: eval)
        try train.finish()
        try eval.finish()
        let preprocessSeconds = ThroughputBenchmark.seconds(since: preprocessStart)
        try? FileManager.default.removeItem(atPath: tsv)

        progress("loading shuffled batches of \(batchSize) from the memory-mapped records")
        let records = try RecordDataset(path: folder + "/train.rsd")
        let loader = BatchLoader(dataset: records, batchSize: batchSize, shuffleSeed: 1, dropLast: true)
        let loadStart = DispatchTime.now()
        var loaded = 0
        while try loader.next() { loaded += loader.batch.size }
        let loadSeconds = ThroughputBenchmark.seconds(since: loadStart)
        try? FileManager.default.removeItem(atPath: folder + "/train.rsd")
        try? FileManager.default.removeItem(atPath: folder + "/eval.rsd")
        precondition(checksum >= 0)
        return Result(fileBytes: bytes, lines: lines, parseSeconds: parseSeconds, preprocessSeconds: preprocessSeconds,
                      loadSeconds: loadSeconds, loadedRecords: loaded)
    }

    /// Writes lines like Criteo's: label, 13 counts (some negative), 26 8-digit hex values.
    static func writeCriteoFile(path: String, megabytes: Int) throws -> (bytes: Int, lines: Int) {
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw DataError("\(path): cannot create")
        }
        defer { try? handle.close() }
        var generator = SeededGenerator(seed: 42)
        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 23)
        let hexDigits = Array("0123456789abcdef".utf8)
        var written = 0, lines = 0
        let target = megabytes * 1_000_000
        while written < target {
            for _ in 0..<10_000 {
                let random = generator.next()
                buffer.append(random & 3 == 0 ? 49 : 48)
                for j in 0..<13 {
                    buffer.append(9)
                    let draw = generator.next()
                    if draw % 20 == 0 { continue }  // missing
                    var value = Int(draw >> 40) % (j == 1 ? 5000 : 300) - (j == 1 ? 2 : 0)
                    if value < 0 { buffer.append(45); value = -value }
                    appendDecimal(value, to: &buffer)
                }
                for _ in 0..<26 {
                    buffer.append(9)
                    let draw = generator.next()
                    if draw % 25 == 0 { continue }
                    for shift in stride(from: 28, through: 0, by: -4) { buffer.append(hexDigits[Int((draw >> UInt64(shift)) & 15)]) }
                }
                buffer.append(10)
                lines += 1
            }
            written += buffer.count
            try handle.write(contentsOf: buffer)
            buffer.removeAll(keepingCapacity: true)
        }
        return (written, lines)
    }

    static func appendDecimal(_ value: Int, to buffer: inout [UInt8]) {
        if value >= 10 { appendDecimal(value / 10, to: &buffer) }
        buffer.append(UInt8(48 + value % 10))
    }
}
