import Foundation
import Testing
import TestSupport

/// Record files know their table sizes (issue 10, item 2): records made for other tables are
/// refused at start, and an id beyond its table is an error naming the file and record, never
/// a memory access.
@Suite(.serialized) struct RecordValidationTests {
    let scratch = ScratchFolder("recsys-records")
    var folder: String { scratch.path }

    /// Preprocesses 400 generated Criteo lines for 26 tables of 1,000 rows; returns the config.
    func preprocessed() throws -> String {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try CriteoDataTests.generatedLines(400).joined(separator: "\n").write(toFile: folder + "/day.tsv", atomically: true, encoding: .utf8)
        let config = folder + "/c.yaml"
        try """
            model: {architecture: dlrm, embedding_dimension: 4, table_count: 26, table_rows: 1000, bottom_mlp: [8, 4], top_mlp: [8, 1]}
            data: {source: criteo_tsv, path: \(folder)/day.tsv}
            training: {batch_size: 50, log_every: 0}
            checkpoint: {save_final: false}
            run: {record: false}
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let preprocess = try BinaryRunner.run(["preprocess", "--config", config, "--output", folder + "/records"])
        try #require(preprocess.status == 0, "\(preprocess.standardError)")
        return config
    }

    func trainOnRecords(_ config: String, _ overrides: [String] = []) throws -> BinaryRunner.Output {
        try BinaryRunner.run(["train", "--config", config, "--set", "data.source=records", "--set", "data.path=\(folder)/records"]
                             + overrides.flatMap { ["--set", $0] })
    }

    @Test func recordsMadeForOtherTableSizesAreRefusedAtStart() throws {
        let config = try preprocessed()
        // preprocess says which lines it held out: the last fifth, by position.
        let heldOut = try String(contentsOfFile: "\(folder)/records/held_out_lines.tsv", encoding: .utf8).split(separator: "\n")
        #expect(heldOut == (321...400).map { "\(folder)/day.tsv\t\($0)"[...] })
        #expect(try trainOnRecords(config).status == 0)
        for rows in [100, 999, 2000] {
            let output = try trainOnRecords(config, ["model.table_rows=\(rows)"])
            #expect(output.status != 0)
            #expect(output.standardError.contains("\(folder)/records/train.rsd: records were made for 1000 rows in table 0, "
                                                  + "the config's model.table_rows gives \(rows)"), "\(output.standardError)")
            #expect(!output.standardOutput.contains("step "), "refused before training")
        }
    }

    @Test func anIdBeyondItsTableIsAnErrorNamingTheRecord() throws {
        let config = try preprocessed()
        // Header 64 + 8 * 26 bytes rounded up to 320; records of 4 + 4 * 13 + 4 * 26 = 160 bytes.
        let path = "\(folder)/records/train.rsd"
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        let offset = 320 + 7 * 160 + 4 + 4 * 13 + 4 * 3  // record 7, table 3
        withUnsafeBytes(of: Int32(5000).littleEndian) { data.replaceSubrange(offset..<(offset + 4), with: $0) }
        try data.write(to: URL(fileURLWithPath: path))
        let output = try trainOnRecords(config)
        #expect(output.status != 0)
        #expect(output.standardError.contains("\(path): record 7: id 5000 of table 3 is outside its 1000 rows"),
                "\(output.standardError)")
    }

    /// Bad lines that fill the held-out share leave it empty: an error before training and from
    /// `preprocess`, which then writes no record files (issue 10, item 4).
    @Test func anEmptyHeldOutSetIsAnErrorBeforeTraining() throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let lines = CriteoDataTests.generatedLines(100).enumerated().map { i, line in i >= 80 ? "bad line \(i)" : line }
        try lines.joined(separator: "\n").write(toFile: folder + "/day.tsv", atomically: true, encoding: .utf8)
        let config = folder + "/c.yaml"
        try """
            model: {architecture: dlrm, embedding_dimension: 4, table_count: 26, table_rows: 100, bottom_mlp: [8, 4], top_mlp: [8, 1]}
            data: {source: criteo_tsv, path: \(folder)/day.tsv, skip_bad_lines: true}
            training: {batch_size: 20, log_every: 0}
            checkpoint: {save_final: false}
            run: {record: false}
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let message = "\(folder)/day.tsv: the held-out set is empty (data.eval_fraction 0.2 of the lines, bad lines skipped)"
        let trained = try BinaryRunner.run(["train", "--config", config])
        #expect(trained.status != 0 && trained.standardError.contains(message), "\(trained.standardError)")
        #expect(!trained.standardOutput.contains("step "))
        let preprocessed = try BinaryRunner.run(["preprocess", "--config", config, "--output", folder + "/records"])
        #expect(preprocessed.status != 0 && preprocessed.standardError.contains(message), "\(preprocessed.standardError)")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: folder + "/records")) ?? []).isEmpty)
    }
}
