import Foundation
import Testing
import TestSupport

/// `generate`: Criteo-shaped click logs whose bytes do not depend on the number of ranks writing
/// them, gzip or plain, that train to an AUC below the planted model's.
@Suite(.serialized) struct GenerateTests {
    let scratch = ScratchFolder("recsys-generate")
    var folder: String { scratch.path }
    static let small = Array(repeating: "60", count: 26).joined(separator: ",")

    func generate(ranks: Int, into name: String, lines: Int, _ extra: [String] = []) throws -> [String: Any] {
        let arguments = ["generate", "--output", "\(folder)/\(name)", "--lines", "\(lines)", "--cardinalities", Self.small,
                         "--format", "json"] + extra
        let output = ranks == 1 ? try BinaryRunner.run(arguments) : try MPIRunner.run(ranks: ranks, arguments)
        try #require(output.status == 0, "\(output.standardError)")
        return try #require(try JSONSerialization.jsonObject(with: Data(output.standardOutput.split(separator: "\n").last!.utf8)) as? [String: Any])
    }

    func concatenated(_ name: String, files: [String]) throws -> Data {
        try files.reduce(into: Data()) { $0 += try Data(contentsOf: URL(fileURLWithPath: "\(folder)/\(name)/\($1)")) }
    }

    /// On a terminal (a pseudo-terminal from `script`) the progress is a live line redrawn in
    /// place, closed by a plain line; piped, there are plain lines only.
    /// An output under a file is one line with the path and the reason (issue 29, item 35).
    @Test func anImpossibleOutputIsOneLine() throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try "x".write(toFile: "\(folder)/file", atomically: true, encoding: .utf8)
        let output = try BinaryRunner.run(["generate", "--output", "\(folder)/file/logs", "--lines", "10"])
        #expect(output.status != 0)
        #expect(output.standardError == "error: \(folder)/file/logs: Not a directory\n", "\(output.standardError)")
    }

    @Test func progressIsALiveLineOnATerminal() throws {
        let command = "\(BinaryRunner.binaryPath) generate --output \(folder)/live --lines 100000 --cardinalities \(Self.small)"
        let terminal = try BinaryRunner.run(executable: "/usr/bin/script", ["-qec", command, "/dev/null"])
        #expect(terminal.status == 0, "\(terminal.standardError)")
        let redraws = terminal.standardOutput.components(separatedBy: "\r\u{1B}[2Kgenerate: ").count - 1
        #expect(redraws >= 2 && terminal.standardOutput.contains("of 100,000 lines ("), "\(terminal.standardOutput)")
        #expect(terminal.standardOutput.contains("generate: 25 MB, 100,000 lines in "), "the closing line")
        let piped = try BinaryRunner.run(["generate", "--output", "\(folder)/piped", "--lines", "100000", "--cardinalities", Self.small])
        #expect(piped.status == 0 && !piped.standardOutput.contains("\u{1B}"), "\(piped.standardOutput)")
        #expect(piped.standardOutput.contains("generate: 25 MB, 100,000 lines in "), "\(piped.standardOutput)")
    }

    @Test func theBytesDoNotDependOnTheRanksAndTrainBelowThePlantedModel() throws {
        let one = try generate(ranks: 1, into: "one", lines: 3001)
        let three = try generate(ranks: 3, into: "three", lines: 3001)
        #expect(three["files"] as? [String] == ["part-0-of-3.tsv", "part-1-of-3.tsv", "part-2-of-3.tsv"])
        let bytes = try concatenated("one", files: one["files"] as! [String])
        #expect(bytes == (try concatenated("three", files: three["files"] as! [String])), "1 rank and 3 ranks write the same lines")
        #expect(one["planted_auc"] as? Double == three["planted_auc"] as? Double)
        let lines = bytes.split(separator: 10)
        #expect(lines.count == 3001 && lines.allSatisfy { $0.split(separator: 9, omittingEmptySubsequences: false).count == 40 })

        let gzip = try generate(ranks: 2, into: "gzip", lines: 3001, ["--gzip"])
        let unzip = Process()
        unzip.executableURL = URL(fileURLWithPath: "/bin/sh")
        unzip.arguments = ["-c", "cat \(folder)/gzip/part-0-of-2.tsv.gz \(folder)/gzip/part-1-of-2.tsv.gz | gzip -dc"]
        let pipe = Pipe()
        unzip.standardOutput = pipe
        try unzip.run()
        let inflated = pipe.fileHandleForReading.readDataToEndOfFile()
        unzip.waitUntilExit()
        #expect(inflated == bytes && gzip["files"] as? [String] == ["part-0-of-2.tsv.gz", "part-1-of-2.tsv.gz"])

        // A model trained on 32,000 generated lines learns (0.81 here) and stays below the planted model (0.91).
        let data = try generate(ranks: 2, into: "train", lines: 40_000)
        let planted = try #require(data["planted_auc"] as? Double)
        let config = "\(folder)/train.yaml"
        try """
            include: \(TestPaths.packageRoot)/configs/models/dlrm-small.yaml
            model: {table_rows: 60, bottom_mlp: [32, 16], top_mlp: [32, 1]}
            data: {source: criteo_tsv, path: [\(folder)/train/part-0-of-2.tsv, \(folder)/train/part-1-of-2.tsv], eval_fraction: 0.2}
            training: {batch_size: 256, epochs: 2, log_every: 0, optimizer: {algorithm: adagrad, learning_rate: 0.05}}
            checkpoint: {save_final: false}
            run: {record: false}
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let trained = try BinaryRunner.run(["train", "--config", config, "--format", "json"])
        try #require(trained.status == 0, "\(trained.standardError)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(trained.standardOutput.split(separator: "\n").last!.utf8)) as? [String: Any])
        let auc = try #require(json["auc"] as? Double)
        #expect(planted > 0.8 && auc > 0.75 && auc < planted, "trained \(auc), planted \(planted)")
    }
}
