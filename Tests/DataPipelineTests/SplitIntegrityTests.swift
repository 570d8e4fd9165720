import Compute
import DataPipeline
import Foundation
import Testing
import TestSupport

/// Skipped lines and damaged files never move or hide data (issue 10, items 4 and 5).
@Suite struct SplitIntegrityTests {
    static func sinks() -> (RecordBuffer, RecordBuffer) {
        (RecordBuffer(denseCount: 13, bagSizes: Array(repeating: 1, count: 26), tableRows: Array(repeating: 1000, count: 26)),
         RecordBuffer(denseCount: 13, bagSizes: Array(repeating: 1, count: 26), tableRows: Array(repeating: 1000, count: 26)))
    }

    /// The position split follows the lines as written: a skipped bad line in the training part
    /// moves no held-out line into training.
    @Test func skippingABadLineKeepsThePositionSplit() throws {
        let folder = RecordFileTests.temporaryFolder()
        var lines = RecordFileTests.criteoLines(50)
        for bad in [5, 12] { lines[bad] = "not a criteo line" }
        try (lines.joined(separator: "\n") + "\n").write(toFile: folder + "/day.tsv", atomically: true, encoding: .utf8)
        var settings = CriteoPreprocessing.Settings(tableRows: Array(repeating: 1000, count: 26))
        settings.split = .position(fraction: 0.2)
        settings.skipBadLines = true
        let (train, eval) = Self.sinks()
        let statistics = try CriteoPreprocessing.run(paths: [folder + "/day.tsv"], settings: settings, train: train, eval: eval)
        #expect(statistics.badLines == 2 && statistics.trainRecords == 38 && statistics.evalRecords == 10)
        #expect(eval.build(name: "eval").labels == (40..<50).map { Float($0 % 3 == 0 ? 1 : 0) }, "exactly the last 10 lines")
    }

    /// A .gz cut short is "truncated gzip stream", even with bad lines skipped.
    @Test(arguments: [false, true])
    func aTruncatedGzipFileIsNamedAndNeverSkipped(skipBadLines: Bool) throws {
        let folder = RecordFileTests.temporaryFolder()
        try (RecordFileTests.criteoLines(3000).joined(separator: "\n") + "\n")
            .write(toFile: folder + "/day.tsv", atomically: true, encoding: .utf8)
        let gzip = Process()
        gzip.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        gzip.arguments = ["gzip", folder + "/day.tsv"]
        try gzip.run()
        gzip.waitUntilExit()
        let whole = try Data(contentsOf: URL(fileURLWithPath: folder + "/day.tsv.gz"))
        try whole.prefix(whole.count / 2).write(to: URL(fileURLWithPath: folder + "/day.tsv.gz"))
        var settings = CriteoPreprocessing.Settings(tableRows: Array(repeating: 1000, count: 26))
        settings.skipBadLines = skipBadLines
        let (train, eval) = Self.sinks()
        #expect(throws: DataError("\(folder)/day.tsv.gz: truncated gzip stream (the file ends inside compressed data)")) {
            try CriteoPreprocessing.run(paths: [folder + "/day.tsv.gz"], settings: settings, train: train, eval: eval)
        }
    }

    /// The random split holds out exactly round(fraction x lines), whatever the seed, and
    /// reports which lines (issue 10, item 21).
    @Test func theRandomSplitIsExactAndReportsItsLines() throws {
        let folder = RecordFileTests.temporaryFolder()
        try (RecordFileTests.criteoLines(9_999).joined(separator: "\n") + "\n")
            .write(toFile: folder + "/day.tsv", atomically: true, encoding: .utf8)
        var chosen: [Set<Int>] = []
        for seed: UInt64 in [1, 2, 3] {
            var settings = CriteoPreprocessing.Settings(tableRows: Array(repeating: 1000, count: 26))
            settings.split = .random(fraction: 0.2, seed: seed)
            let (train, eval) = Self.sinks()
            var lines: [Int] = []
            let statistics = try CriteoPreprocessing.run(paths: [folder + "/day.tsv"], settings: settings, train: train, eval: eval,
                                                         heldOutLine: { path, line in
                                                             #expect(path == folder + "/day.tsv")
                                                             lines.append(line)
                                                         })
            #expect(statistics.evalRecords == 2000 && statistics.trainRecords == 7999, "seed \(seed)")
            #expect(lines.count == 2000 && Set(lines).count == 2000 && lines.allSatisfy { (1...9_999).contains($0) })
            // The reported lines are the held-out records: their labels, in order.
            #expect(eval.build(name: "eval").labels == lines.map { Float(($0 - 1) % 3 == 0 ? 1 : 0) })
            chosen.append(Set(lines))
        }
        #expect(chosen[0] != chosen[1] && chosen[1] != chosen[2], "another seed, other lines")
    }
}
