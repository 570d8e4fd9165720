import DataPipeline
import Foundation
import Testing
import TestSupport

/// Progress of passes over data files: every line counted, the bytes of the file on disk (of
/// the compressed file for .gz) by the end, lines only once the interval has passed, and the
/// rate and time left from the bytes.
@Suite struct ReadProgressTests {
    @Test(arguments: [false, true])
    func readersReportTheFileBytesAndLines(compressed: Bool) throws {
        let folder = ScratchFolder.path("recsys-progress")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let text = (0..<20_000).map { "line \($0)\tsome\tfields" }.joined(separator: "\n") + "\n"
        var path = "\(folder)/lines.txt"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        if compressed {
            let gzip = Process()
            gzip.executableURL = URL(fileURLWithPath: "/bin/gzip")
            gzip.arguments = [path]
            try gzip.run()
            gzip.waitUntilExit()
            path += ".gz"
        }
        var reports: [String] = []
        let meter = ReadProgress(interval: 0, report: { reports.append($0) })
        let reader = try LineReader(path: path, chunkSize: 4096)
        reader.progress = meter
        meter.begin("reading", totalBytes: reader.sizeInBytes)
        try reader.forEachLine { _, _ in }
        let last = try #require(reports.last)
        #expect(reports.count > 1, "a line per chunk with no interval")
        #expect(last.hasPrefix("reading: 0 of 0 MB (100.0%), 20,000 lines,"), "\(last)")
    }

    @Test func linesWaitForTheIntervalAndGiveRateAndTimeLeft() {
        var clock = 100.0, reports: [String] = []
        let meter = ReadProgress(interval: 5, report: { reports.append($0) }, now: { clock })
        meter.begin("writing records", totalBytes: 4_000_000_000)
        clock += 2
        meter.advance(bytes: 400_000_000, lines: 1_000_000)
        #expect(reports.isEmpty)
        clock += 3
        meter.advance(bytes: 600_000_000, lines: 1_500_000)
        #expect(reports == ["writing records: 1,000 of 4,000 MB (25.0%), 2,500,000 lines, 200.0 MB/s, 15 s left"])
        clock += 5
        try? meter.end()
        #expect(reports.last == "writing records: 1,000 MB, 2,500,000 lines in 10.0 s, 100.0 MB/s")
    }

    /// A pass counted in lines (`generate`) and shown on a live line: redrawn five times a
    /// second, and only the closing line printed.
    @Test func liveLinesCountedInLines() throws {
        var clock = 0.0, lines: [String] = [], live: [String] = []
        let meter = ReadProgress(output: ProgressOutput(line: { lines.append($0) }, live: { live.append($0) }), now: { clock })
        meter.begin("generate", total: 1_000_000, unit: .lines)
        for _ in 0..<10 {
            clock += 0.125
            meter.advance(bytes: 25_000_000, lines: 100_000)
        }
        #expect(live.count == 5 && lines.isEmpty, "\(live)")
        #expect(live.last == "generate: 1,000,000 of 1,000,000 lines (100.0%), 250 MB, 200.0 MB/s")
        try meter.end()
        #expect(lines == ["generate: 250 MB, 1,000,000 lines in 1.3 s, 200.0 MB/s"])
    }
}
