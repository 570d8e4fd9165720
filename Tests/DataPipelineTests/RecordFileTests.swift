import Compute
import DataPipeline
import Foundation
import Testing
import TestSupport

@Suite struct RecordFileTests {
    static func temporaryFolder() -> String {
        let path = ScratchFolder.path("recsys-data")
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Criteo lines for tests: label, 13 counts, 26 hex values, some missing.
    static func criteoLines(_ count: Int) -> [String] {
        (0..<count).map { i in
            let dense = (0..<13).map { j in (i + j) % 5 == 0 ? "" : "\((i * 7 + j) % 50 - 2)" }
            let categorical = (0..<26).map { t in (i + t) % 11 == 0 ? "" : String(format: "%08x", (i * 31 + t * 1009) % 70_000) }
            return (["\(i % 3 == 0 ? 1 : 0)"] + dense + categorical).joined(separator: "\t")
        }
    }

    /// A record whose label is not 0 or 1, or whose dense value is not finite, is an error naming
    /// the file and record when it is read (issue 29, item 29).
    @Test func labelsAndDenseValuesAreCheckedWhenRead() throws {
        for (label, dense, message) in [(Float(7), Float(1), "record 1: label 7.0 is not 0 or 1"),
                                        (Float(1), Float.infinity, "record 1: dense value 0 is inf"),
                                        (Float.nan, Float(1), "record 1: label nan is not 0 or 1")] {
            let path = Self.temporaryFolder() + "/r.rsd"
            let writer = try RecordWriter(path: path, denseCount: 1, bagSizes: [1], tableRows: [10])
            try writer.append(label: 1, dense: [0.5], ids: [3])
            try writer.append(label: label, dense: [dense], ids: [4])
            try writer.finish()
            let dataset = try RecordDataset(path: path)
            let batch = Batch(capacity: 2, denseFeatureCount: 1, tableCount: 1, idsPerSample: 1)
            #expect(throws: DataError("\(path): \(message)")) {
                try [0, 1].withUnsafeBufferPointer { try dataset.fill(batch, order: $0, start: 0, size: 2) }
            }
        }
    }

    /// Format 4 stores each record's labels, one per task, and the tasks (names and kinds) in
    /// its header; a regression label may be any finite number, a binary one only 0 or 1.
    @Test func recordsOfTwoTasksReadBackTheirLabelsAndTasks() throws {
        let tasks = [PredictionTask(name: "click"), PredictionTask(name: "rating", kind: .regression)]
        let path = Self.temporaryFolder() + "/tasks.rsd"
        let writer = try RecordWriter(path: path, tasks: tasks, denseCount: 1, bagSizes: [1], tableRows: [10])
        for (labels, id) in [([Float(1), 4.5], Int32(3)), ([0, -2], 7), ([1, 0.25], 0)] {
            try writer.append(labels: labels, dense: [Float(id)], ids: [id])
        }
        try writer.finish()
        let dataset = try RecordDataset(path: path)
        #expect(dataset.tasks == tasks && dataset.count == 3)
        #expect(dataset.labels == [1, 4.5, 0, -2, 1, 0.25])
        let batch = Batch(capacity: 3, denseFeatureCount: 1, tableCount: 1, idsPerSample: 1, taskCount: 2)
        try [2, 0].withUnsafeBufferPointer { try dataset.fill(batch, order: $0, start: 0, size: 2) }
        #expect(Array(batch.labels.toArray().prefix(4)) == [1, 0.25, 1, 4.5])
        #expect(batch.dense[0] == 0 && batch.dense[1] == 3 && batch.sparse[0].ids[0] == 0 && batch.sparse[0].ids[1] == 3)

        let bad = Self.temporaryFolder() + "/bad.rsd"
        let badWriter = try RecordWriter(path: bad, tasks: tasks, denseCount: 1, bagSizes: [1], tableRows: [10])
        try badWriter.append(labels: [Float(0.5), 1], dense: [1], ids: [1])
        try badWriter.append(labels: [Float(1), .nan], dense: [1], ids: [1])
        try badWriter.finish()
        let damaged = try RecordDataset(path: bad)
        for (record, message) in [(0, "record 0: label 0.5 of task 'click' is not 0 or 1"), (1, "record 1: label nan of task 'rating' is not a finite number")] {
            #expect(throws: DataError("\(bad): \(message)")) {
                try [record].withUnsafeBufferPointer { try damaged.fill(batch, order: $0, start: 0, size: 1) }
            }
        }
    }

    /// A format-3 file (one click label, no task section) reads as one binary task `click`, and
    /// formats before 5 (no value mapping field) as value mapping 1.
    @Test func formatThreeRecordsReadAsOneClickTask() throws {
        let path = Self.temporaryFolder() + "/v3.rsd"
        let writer = try RecordWriter(path: path, denseCount: 1, bagSizes: [1], tableRows: [10])
        try writer.append(label: 1, dense: [0.5], ids: [3])
        try writer.append(label: 0, dense: [1.5], ids: [4])
        try writer.finish()
        // The header as format 3 wrote it: version 3, no task count, no task section (for one
        // table both headers take 128 bytes, and a one-task record is laid out alike).
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(bytes[8] == 5 && Array(bytes[36..<40]) == [1, 0, 0, 0] && Array(bytes[40..<44]) == [2, 0, 0, 0]
                && Array(bytes[73..<78]) == Array("click".utf8))
        #expect(try RecordDataset(path: path).valueMapping == 2)
        bytes[8] = 3
        for offset in 36..<44 { bytes[offset] = 0 }
        for offset in 72..<104 { bytes[offset] = 0 }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let dataset = try RecordDataset(path: path)
        #expect(dataset.tasks == [.click] && dataset.labels == [1, 0] && dataset.count == 2 && dataset.valueMapping == 1)
    }

    @Test func writtenRecordsReadBackThroughTheMemoryMap() throws {
        let path = Self.temporaryFolder() + "/r.rsd"
        let writer = try RecordWriter(path: path, denseCount: 2, bagSizes: [1, 3], tableRows: [100, 100])
        for i in 0..<5 {
            let dense: [Float] = [Float(i), -Float(i)]
            let ids: [Int32] = [Int32(i), Int32(10 + i), i % 2 == 0 ? -1 : 20, -1]
            try writer.append(label: Float(i % 2), dense: dense, ids: ids)
        }
        #expect(!FileManager.default.fileExists(atPath: path), "the file appears only when finished")
        try writer.finish()
        let dataset = try RecordDataset(path: path)
        #expect(dataset.count == 5 && dataset.denseFeatureCount == 2 && dataset.idsPerSample == [1, 3])
        #expect(dataset.labels == [0, 1, 0, 1, 0])
        let batch = Batch(capacity: 3, denseFeatureCount: 2, tableCount: 2, idsPerSample: 3)
        try [4, 1, 2].withUnsafeBufferPointer { try dataset.fill(batch, order: $0, start: 0, size: 3) }
        #expect(batch.labels.toArray() == [0, 1, 0] && batch.dense.toArray() == [4, -4, 1, -1, 2, -2])
        #expect((0...3).map { batch.sparse[1].offsets[$0] } == [0, 1, 3, 4], "padding (-1) is skipped")
        #expect((0..<4).map { batch.sparse[1].ids[$0] } == [14, 11, 20, 12])
    }

    /// A table of 0 rows holds 64-bit keys (two id slots each): read back whole into the
    /// batch's keys, padding skipped; the fixed table beside it is unchanged.
    @Test func keyTablesReadBackTheirWholeKeys() throws {
        let path = Self.temporaryFolder() + "/k.rsd"
        let writer = try RecordWriter(path: path, denseCount: 1, bagSizes: [2, 1], tableRows: [0, 100])
        let slots = RecordFormat.idSlots(bagSizes: [2, 1], tableRows: [0, 100])
        #expect(slots == [0, 4, 5])
        let keys: [UInt64] = [0xDEAD_BEEF_0000_0001, 7, RecordFormat.missingKey]
        for i in 0..<3 {
            var ids = [Int32](repeating: -1, count: slots.last!)
            RecordFormat.store(key: keys[i], in: &ids, at: 0)
            if i == 1 { RecordFormat.store(key: keys[0], in: &ids, at: 2) }
            ids[4] = Int32(i)
            try writer.append(label: 1, dense: [Float(i)], ids: ids)
        }
        try writer.finish()
        let dataset = try RecordDataset(path: path)
        #expect(dataset.tableRows == [0, 100])
        let batch = Batch(capacity: 3, denseFeatureCount: 1, tableCount: 2, idsPerSample: 2)
        try [0, 1, 2].withUnsafeBufferPointer { try dataset.fill(batch, order: $0, start: 0, size: 3) }
        let keyed = batch.sparse[0]
        #expect(keyed.carriesKeys && !batch.sparse[1].carriesKeys)
        #expect((0...3).map { keyed.offsets[$0] } == [0, 1, 3, 4])
        #expect((0..<4).map { keyed.keys[$0] } == [keys[0], 7, keys[0], RecordFormat.missingKey])
        #expect((0..<3).map { batch.sparse[1].ids[$0] } == [0, 1, 2])
    }

    @Test func damagedFilesAreClearErrors() throws {
        let folder = Self.temporaryFolder()
        let path = folder + "/r.rsd"
        let writer = try RecordWriter(path: path, denseCount: 1, bagSizes: [1], tableRows: [10])
        for _ in 0..<4 { try writer.append(label: 1, dense: [2], ids: [3]) }
        try writer.finish()
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        try bytes.prefix(bytes.count - 3).write(to: URL(fileURLWithPath: folder + "/short.rsd"))
        #expect(throws: DataError("\(folder)/short.rsd: truncated or inconsistent (173 bytes for 4 records of 12 bytes)")) {
            try RecordDataset(path: folder + "/short.rsd")
        }
        try Data(repeating: 7, count: 100).write(to: URL(fileURLWithPath: folder + "/junk.rsd"))
        #expect(throws: DataError("\(folder)/junk.rsd: not a recsys-dist record file (bad magic)")) {
            try RecordDataset(path: folder + "/junk.rsd")
        }
    }

    @Test func preprocessingSplitsByPositionMapsIdsAndWritesTheSameAsMemory() throws {
        let folder = Self.temporaryFolder()
        let lines = Self.criteoLines(50)
        try (lines.joined(separator: "\n") + "\n").write(toFile: folder + "/day.tsv", atomically: true, encoding: .utf8)
        var settings = CriteoPreprocessing.Settings(tableRows: Array(repeating: 1000, count: 26))
        settings.split = .position(fraction: 0.2)
        let train = RecordBuffer(denseCount: 13, bagSizes: Array(repeating: 1, count: 26), tableRows: Array(repeating: 1000, count: 26)), eval = RecordBuffer(denseCount: 13, bagSizes: Array(repeating: 1, count: 26), tableRows: Array(repeating: 1000, count: 26))
        let statistics = try CriteoPreprocessing.run(paths: [folder + "/day.tsv"], settings: settings, train: train, eval: eval)
        #expect(statistics.trainRecords == 40 && statistics.evalRecords == 10 && statistics.lines == 50)
        let trainSet = train.build(name: "train"), evalSet = eval.build(name: "eval")
        // Held-out = the last 10 lines; ids are the hex value modulo the rows (moved off row 0, the missing values').
        #expect(evalSet.labels == (40..<50).map { Float($0 % 3 == 0 ? 1 : 0) })
        let first = Batch(capacity: 1, denseFeatureCount: 13, tableCount: 26)
        try [0].withUnsafeBufferPointer { try trainSet.fill(first, order: $0, start: 0, size: 1) }
        let expectedID: Int32 = 1009 % 1000  // line 0, table 1: hex value 1009, modulo 1000 rows
        #expect(first.sparse[1].ids[0] == expectedID)
        #expect(first.sparse[0].ids[0] == 0, "line 0, table 0 is missing")

        let writerTrain = try RecordWriter(path: folder + "/train.rsd", denseCount: 13, bagSizes: Array(repeating: 1, count: 26), tableRows: Array(repeating: 1000, count: 26))
        let writerEval = try RecordWriter(path: folder + "/eval.rsd", denseCount: 13, bagSizes: Array(repeating: 1, count: 26), tableRows: Array(repeating: 1000, count: 26))
        _ = try CriteoPreprocessing.run(paths: [folder + "/day.tsv"], settings: settings, train: writerTrain, eval: writerEval)
        try writerTrain.finish()
        try writerEval.finish()
        let records = try RecordDataset(path: folder + "/train.rsd")
        let fromFile = Batch(capacity: 40, denseFeatureCount: 13, tableCount: 26), fromMemory = Batch(capacity: 40, denseFeatureCount: 13, tableCount: 26)
        let order = Array(0..<40)
        try order.withUnsafeBufferPointer {
            try records.fill(fromFile, order: $0, start: 0, size: 40)
            try trainSet.fill(fromMemory, order: $0, start: 0, size: 40)
        }
        #expect(fromFile.dense.toArray() == fromMemory.dense.toArray() && fromFile.labels.toArray() == fromMemory.labels.toArray())
        for t in 0..<26 { #expect((0..<40).map { fromFile.sparse[t].ids[$0] } == (0..<40).map { fromMemory.sparse[t].ids[$0] }) }
    }

    @Test func gzipCRLFAndRandomSplitAndFrequencyThreshold() throws {
        let folder = Self.temporaryFolder()
        let lines = Self.criteoLines(200)
        try (lines.joined(separator: "\r\n") + "\r\n").write(toFile: folder + "/day.tsv", atomically: true, encoding: .utf8)
        let gzip = Process()
        gzip.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        gzip.arguments = ["gzip", "-k", folder + "/day.tsv"]
        try gzip.run()
        gzip.waitUntilExit()
        var settings = CriteoPreprocessing.Settings(tableRows: Array(repeating: 1000, count: 26))
        settings.split = .random(fraction: 0.25, seed: 9)
        settings.frequencyThreshold = 2
        func run(_ path: String) throws -> (CriteoPreprocessing.Statistics, RecordDataset, RecordDataset) {
            let train = RecordBuffer(denseCount: 13, bagSizes: Array(repeating: 1, count: 26), tableRows: Array(repeating: 1000, count: 26)), eval = RecordBuffer(denseCount: 13, bagSizes: Array(repeating: 1, count: 26), tableRows: Array(repeating: 1000, count: 26))
            let statistics = try CriteoPreprocessing.run(paths: [path], settings: settings, train: train, eval: eval)
            return (statistics, train.build(name: "train"), eval.build(name: "eval"))
        }
        let (plainStatistics, plainTrain, _) = try run(folder + "/day.tsv")
        let (gzipStatistics, gzipTrain, _) = try run(folder + "/day.tsv.gz")
        #expect(plainStatistics == { var s = gzipStatistics; s.files = plainStatistics.files; return s }())
        let a = Batch(capacity: plainTrain.count, denseFeatureCount: 13, tableCount: 26)
        let b = Batch(capacity: gzipTrain.count, denseFeatureCount: 13, tableCount: 26)
        #expect(plainTrain.count == gzipTrain.count)
        try Array(0..<plainTrain.count).withUnsafeBufferPointer {
            try plainTrain.fill(a, order: $0, start: 0, size: plainTrain.count)
            try gzipTrain.fill(b, order: $0, start: 0, size: plainTrain.count)
        }
        #expect(a.dense.toArray() == b.dense.toArray() && a.labels.toArray() == b.labels.toArray(), "gzip reads the same as plain")
        #expect(plainStatistics.evalRecords > 25 && plainStatistics.evalRecords < 75, "about a quarter held out")
        #expect(plainStatistics.rareValues!.allSatisfy { $0 > 0 }, "values seen once are rare at threshold 2")
    }

    @Test func badLinesStopOrAreSkippedAndCounted() throws {
        let folder = Self.temporaryFolder()
        var lines = Self.criteoLines(30)
        lines[6] = lines[6].replacingOccurrences(of: "\t", with: " ")
        lines[20] = "1\t" + lines[20]
        try (lines.joined(separator: "\n") + "\n").write(toFile: folder + "/bad.tsv", atomically: true, encoding: .utf8)
        var settings = CriteoPreprocessing.Settings(tableRows: Array(repeating: 1000, count: 26))
        let train = RecordBuffer(denseCount: 13, bagSizes: Array(repeating: 1, count: 26), tableRows: Array(repeating: 1000, count: 26)), eval = RecordBuffer(denseCount: 13, bagSizes: Array(repeating: 1, count: 26), tableRows: Array(repeating: 1000, count: 26))
        #expect(throws: DataError("\(folder)/bad.tsv:7: expected 40 tab-separated fields, found 1")) {
            try CriteoPreprocessing.run(paths: [folder + "/bad.tsv"], settings: settings, train: train, eval: eval)
        }
        settings.skipBadLines = true
        let statistics = try CriteoPreprocessing.run(paths: [folder + "/bad.tsv"], settings: settings,
                                                     train: RecordBuffer(denseCount: 13, bagSizes: Array(repeating: 1, count: 26), tableRows: Array(repeating: 1000, count: 26)),
                                                     eval: RecordBuffer(denseCount: 13, bagSizes: Array(repeating: 1, count: 26), tableRows: Array(repeating: 1000, count: 26)))
        #expect(statistics.badLines == 2 && statistics.trainRecords + statistics.evalRecords == 28)
    }

    @Test func emptyAndMissingFilesFailBeforeAnyWork() throws {
        let folder = Self.temporaryFolder()
        try #require(FileManager.default.createFile(atPath: folder + "/empty.tsv", contents: Data()))
        let settings = CriteoPreprocessing.Settings(tableRows: Array(repeating: 10, count: 26))
        let sink = RecordBuffer(denseCount: 13, bagSizes: Array(repeating: 1, count: 26), tableRows: Array(repeating: 1000, count: 26))
        #expect(throws: DataError("\(folder)/empty.tsv: empty file")) {
            try CriteoPreprocessing.run(paths: [folder + "/empty.tsv"], settings: settings, train: sink, eval: sink)
        }
        #expect(throws: DataError("\(folder)/none.tsv: no such file")) {
            try CriteoPreprocessing.run(paths: [folder + "/none.tsv"], settings: settings, train: sink, eval: sink)
        }
    }
}

/// Byte ranges of a plain file read the lines that start in them: ranges that tile the file
/// read every line once, whatever the cut points (inside a line, on an LF, at a CRLF).
struct LineReaderRangeTests {
    @Test func rangesThatTileAFileReadEachLineOnce() throws {
        let path = RecordFileTests.temporaryFolder() + "/lines.txt"
        let lines = (0..<200).map { i in String(repeating: "x", count: (i * 7) % 23) + "\(i)" }
        let text = lines.enumerated().map { $0.offset % 3 == 0 ? $0.element + "\r\n" : $0.element + "\n" }.joined() + "tail"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let size = text.utf8.count
        func read(_ range: Range<Int>?, chunk: Int) throws -> [String] {
            var found: [String] = []
            try LineReader(path: path, chunkSize: chunk, byteRange: range).forEachLine { line, _ in found.append(String(decoding: line, as: UTF8.self)) }
            return found
        }
        let whole = try read(nil, chunk: 64)
        #expect(whole == lines + ["tail"])
        for pieces in [1, 2, 3, 7, 50, size] {
            for chunk in [5, 64, 4096] {
                let cuts = (0...pieces).map { $0 * size / pieces }
                let tiled = try zip(cuts, cuts.dropFirst()).flatMap { try read($0..<$1, chunk: chunk) }
                #expect(tiled == whole, "\(pieces) pieces, chunks of \(chunk)")
                // Progress counts each range's own bytes: the pieces add up to the file.
                var counted = 0
                for (first, end) in zip(cuts, cuts.dropFirst()) {
                    let meter = ReadProgress(interval: .infinity, report: { _ in })
                    meter.begin("reading", totalBytes: end - first)
                    let reader = try LineReader(path: path, chunkSize: chunk, byteRange: first..<end)
                    reader.progress = meter
                    try reader.forEachLine { _, _ in }
                    counted += meter.bytesDone
                }
                #expect(counted == size, "\(pieces) pieces, chunks of \(chunk): \(counted) bytes counted")
            }
        }
    }
}
