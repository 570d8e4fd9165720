import Foundation
import Testing
import TestSupport

/// Issue 29, item 2: an empty categorical value and a value landing on row 0 (hour 0, the first
/// bucket) shared row 0. Under value mapping 2 missing values have a row of their own; records
/// and checkpoints keep the mapping they were made with, so raw data scored or trained further
/// against them is read as they were.
@Suite(.serialized) struct ValueMappingTests {
    let scratch = ScratchFolder("recsys-mapping")
    var folder: String { scratch.path }

    /// id,click,site,device,hour: every 10th line has no device, hours below 6 fall in the first
    /// bucket.
    func writeConfig(source: String = "delimited", tableRows: String = "50") throws -> String {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var lines = ["id,click,site,device,hour"]
        for i in 0..<400 {
            lines.append("\(i),\((i % 13) < 4 ? 1 : 0),s\(i % 13),\(i % 10 == 0 ? "" : "d\(i % 5)"),\(i % 24)")
        }
        try (lines.joined(separator: "\n") + "\n").write(toFile: "\(folder)/clicks.csv", atomically: true, encoding: .utf8)
        let config = "\(folder)/c.yaml"
        try """
            model: {architecture: wide_deep, embedding_dimension: 4, table_rows: \(tableRows), deep_mlp: [8, 1]}
            data:
              source: \(source)
              path: \(source == "records" ? "\(folder)/records" : "\(folder)/clicks.csv")
              eval_fraction: 0.25
              delimited:
                delimiter: ","
                header: true
                label: {column: click}
                dense: [{column: id, transform: log1p}]
                categorical: [{column: site}, {column: device}, {column: 4, buckets: [6, 12, 18]}]
            training: {batch_size: 50, epochs: 1, log_every: 0}
            checkpoint: {directory: \(folder)/checkpoints, run_name: clicks}
            run: {record: false}
            """.write(toFile: config, atomically: true, encoding: .utf8)
        return config
    }

    /// Per data line of clicks.csv, the rows `evaluate --predictions` read for the device and
    /// hour-bucket tables from the raw file with the checkpoint of run `run`.
    func scoredRows(run: String = "clicks") throws -> [(device: String, bucket: String)] {
        let predictions = "\(folder)/p-\(UUID().uuidString).tsv"
        let scored = try BinaryRunner.run(["evaluate", "--checkpoint", "\(folder)/checkpoints/\(run)/latest", "--data",
                                           "\(folder)/clicks.csv", "--predictions", predictions])
        try #require(scored.status == 0, "\(scored.standardError)")
        // label, score, the dense value, then each table's bag.
        return try String(contentsOfFile: predictions, encoding: .utf8).split(separator: "\n").dropFirst().map {
            let columns = $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            return (columns[4], columns[5])
        }
    }

    /// Trained on raw data, a model reads an empty device as row 0 and the first hour bucket as
    /// row 1; no present value takes row 0.
    @Test func missingValuesHaveARowOfTheirOwn() throws {
        let config = try writeConfig()
        let trained = try BinaryRunner.run(["train", "--config", config])
        try #require(trained.status == 0, "\(trained.standardError)")
        let rows = try scoredRows()
        #expect(rows.count == 400)
        for (i, row) in rows.enumerated() {
            #expect((row.device == "0") == (i % 10 == 0), "line \(i + 2): device row \(row.device)")
            #expect(row.bucket == "\(1 + [6, 12, 18].filter { i % 24 >= $0 }.count)", "line \(i + 2): hour \(i % 24) in row \(row.bucket)")
        }
    }

    /// Records made by mapping 1 (as every record file before format 5) train a model that keeps
    /// mapping 1: the raw file scored against it is read by mapping 1 (empty device and the first
    /// bucket both row 0), resuming it by mapping 2 is refused, and records of mapping 1 are
    /// refused to a config naming mapping 2.
    @Test func recordsAndCheckpointsKeepTheirMapping() throws {
        let raw = try writeConfig()
        let preprocessed = try BinaryRunner.run(["preprocess", "--config", raw, "--output", "\(folder)/records",
                                                 "--set", "data.value_mapping=1"])
        try #require(preprocessed.status == 0, "\(preprocessed.standardError)")
        let stats = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(folder)/records/stats.json")))
            as? [String: Any])
        #expect(stats["valueMapping"] as? Int == 1, "\(stats)")

        let records = try writeConfig(source: "records")
        let trained = try BinaryRunner.run(["train", "--config", records])
        try #require(trained.status == 0, "\(trained.standardError)")
        for (i, row) in try scoredRows().enumerated() {
            let bucket = [6, 12, 18].filter { i % 24 >= $0 }.count
            if i % 10 == 0 { #expect(row.device == "0", "line \(i + 2)") }
            #expect(row.bucket == "\(bucket)", "line \(i + 2): hour \(i % 24) read by mapping 1 as row \(row.bucket)")
        }
        let resumed = try BinaryRunner.run(["train", "--config", raw, "--resume", "latest", "--set", "data.value_mapping=2",
                                            "--set", "training.epochs=2"])
        #expect(resumed.status != 0)
        #expect(resumed.standardError.contains("key 'data.value_mapping': the checkpoint")
                && resumed.standardError.contains("by mapping 1, this run by 2"), "\(resumed.standardError)")
        let mixed = try BinaryRunner.run(["train", "--config", records, "--overwrite", "--set", "data.value_mapping=2"])
        #expect(mixed.status != 0)
        #expect(mixed.standardError.contains("records made with value mapping 1, the model's data used mapping 2"), "\(mixed.standardError)")
        // Resumed on the raw file without naming a mapping, the run keeps the checkpoint's.
        let continued = try BinaryRunner.run(["train", "--config", raw, "--resume", "latest", "--set", "training.epochs=2"])
        try #require(continued.status == 0, "\(continued.standardError)")
        #expect(try scoredRows().enumerated().allSatisfy { i, row in row.bucket == "\([6, 12, 18].filter { i % 24 >= $0 }.count)" })
    }

    /// A table too small for its values and the missing row is refused, naming the key.
    @Test func aTableTooSmallForItsValuesIsRefused() throws {
        let config = try writeConfig(tableRows: "[50, 50, 4]")
        let refused = try BinaryRunner.run(["train", "--config", config])
        #expect(refused.status != 0)
        #expect(refused.standardError.contains("key 'model.table_rows[2]': 4 rows are too few for data.delimited.categorical[2]: "
                                               + "its 4 values and a row for missing values (data.value_mapping 2) need 5"),
                "\(refused.standardError)")
    }
}
