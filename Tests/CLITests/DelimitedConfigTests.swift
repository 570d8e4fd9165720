import Foundation
import Testing
import TestSupport

/// A public click-log CSV as a new user meets it (issue 10, items 14, 15, 16 and 19): a header,
/// CRLF, quoted fields, columns named by the header, no dense columns, and table_count and
/// dense_features left to the schema.
@Suite(.serialized) struct DelimitedConfigTests {
    let scratch = ScratchFolder("recsys-csv-cli")
    var folder: String { scratch.path }

    func write() throws -> String {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var lines = ["id,click,\"site, domain\",device,hour"]
        for i in 0..<600 {
            let site = i % 7 == 0 ? "\"shop, \"\"best\"\"\"" : "s\(i % 13)"
            lines.append("\(i),\((i % 13) < 4 ? 1 : 0),\(site),d\(i % 5),\(i % 24)")
        }
        try (lines.joined(separator: "\r\n") + "\r\n").write(toFile: folder + "/clicks.csv", atomically: true, encoding: .utf8)
        let config = folder + "/c.yaml"
        try """
            model: {architecture: wide_deep, embedding_dimension: 4, table_rows: 50, deep_mlp: [8, 1]}
            data:
              source: delimited
              path: \(folder)/clicks.csv
              delimited:
                delimiter: ","
                header: true
                label: {column: click}
                categorical: [{column: "site, domain"}, {column: device}, {column: 4, buckets: [6, 12, 18]}]
            training: {batch_size: 50, epochs: 2, log_every: 0, optimizer: {learning_rate: 0.05}}
            checkpoint: {save_final: false}
            run: {record: false}
            """.write(toFile: config, atomically: true, encoding: .utf8)
        return config
    }

    @Test func columnsAreNamedByTheHeader() throws {
        let config = try write()
        let trained = try BinaryRunner.run(["train", "--config", config, "--format", "json"])
        #expect(trained.status == 0, "\(trained.standardError)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(trained.standardOutput.split(separator: "\n").last!.utf8)) as? [String: Any])
        #expect(((json["auc"] as? Double) ?? 0) > 0.9, "the site decides the click: \(json)")
        // DLRM with no dense columns: no bottom MLP, the interaction over the tables alone (item 16).
        let dlrm = try BinaryRunner.run(["train", "--config", config, "--format", "json", "--set", "model.architecture=dlrm",
                                         "--set", "model.top_mlp=[8, 1]"])
        #expect(dlrm.status == 0, "\(dlrm.standardError)")
        let dlrmJSON = try #require(try JSONSerialization.jsonObject(with: Data(dlrm.standardOutput.split(separator: "\n").last!.utf8)) as? [String: Any])
        #expect(((dlrmJSON["auc"] as? Double) ?? 0) > 0.8, "\(dlrmJSON)")
        let misnamed = try BinaryRunner.run(["train", "--config", config, "--set", "data.delimited.label.column=clicked"])
        #expect(misnamed.status != 0)
        #expect(misnamed.standardError.contains("key 'data.delimited.label.column': no column 'clicked' in the header of "
                                                + "\(folder)/clicks.csv (columns: id, click, site, domain, device, hour)"), "\(misnamed.standardError)")
    }

    /// Dynamic tables over delimited columns: each value's 64-bit hash reaches the table whole
    /// (keys above 2^32 in the checkpoint, read back by h5dump); a bucketed column cannot be a
    /// dynamic table.
    @Test func dynamicTablesKeepTheWholeHashOfEachValue() throws {
        let config = try write()
        let dynamic = ["--set", "model.table_rows=[dynamic, dynamic, 50]", "--set", "model.dynamic_tables.capacity=64",
                       "--set", "model.dynamic_tables.bucket_rows=16", "--set", "checkpoint.save_final=true",
                       "--set", "checkpoint.directory=\(folder)/checkpoints", "--set", "checkpoint.run_name=dynamic"]
        let trained = try BinaryRunner.run(["train", "--config", config, "--format", "json"] + dynamic)
        try #require(trained.status == 0, "\(trained.standardError)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(trained.standardOutput.split(separator: "\n").last!.utf8)) as? [String: Any])
        #expect(((json["auc"] as? Double) ?? 0) > 0.9, "the site decides the click: \(json)")
        let dump = try BinaryRunner.run(executable: "/usr/bin/env", ["h5dump", "-d", "/embeddings/table0/keys", "-y", "-w", "0",
                                                                     "\(folder)/checkpoints/dynamic/latest/dense.h5"])
        #expect(dump.status == 0, "\(dump.standardError)")
        let data = try #require(dump.standardOutput.range(of: "DATA {").map { dump.standardOutput[$0.upperBound...] })
        let keys = data.split(whereSeparator: { ", \n{}".contains($0) }).compactMap { UInt64($0) }
            .filter { $0 != UInt64.max }
        #expect(keys.count == 14, "13 sites and the quoted one, each its own row: \(keys)")
        #expect(keys.contains { $0 > UInt64(UInt32.max) }, "64-bit hashes, not truncated: \(keys)")

        let bucketed = try BinaryRunner.run(["train", "--config", config, "--set", "model.table_rows=dynamic"])
        #expect(bucketed.status != 0 && bucketed.standardError.contains("data.delimited.categorical[2]"), "\(bucketed.standardError)")
    }

    /// Data paths are resolved when training starts, so `evaluate` works from any folder; the
    /// format of `evaluate --data FILE` is found from the file (issue 10, item 22).
    @Test func evaluateWorksFromAnotherFolderAndOnAnotherFormat() throws {
        let config = try write()
        let relative = try String(contentsOfFile: config, encoding: .utf8)
            .replacingOccurrences(of: "path: \(folder)/clicks.csv", with: "path: clicks.csv")
            .replacingOccurrences(of: "checkpoint: {save_final: false}", with: "checkpoint: {directory: checkpoints, run_name: csv}")
        try relative.write(toFile: config, atomically: true, encoding: .utf8)
        let trained = try BinaryRunner.run(["train", "--config", config], workingDirectory: folder)
        try #require(trained.status == 0, "\(trained.standardError)")
        let elsewhere = BinaryRunner.scratchFolder.path
        let evaluated = try BinaryRunner.run(["evaluate", "--checkpoint", "\(folder)/checkpoints/csv/latest"], workingDirectory: elsewhere)
        #expect(evaluated.status == 0, "\(evaluated.standardError)")

        // Records made from the CSV, a model trained on them, and the CSV scored by that model.
        let preprocessed = try BinaryRunner.run(["preprocess", "--config", config, "--output", "records"], workingDirectory: folder)
        try #require(preprocessed.status == 0, "\(preprocessed.standardError)")
        let onRecords = try BinaryRunner.run(["train", "--config", config, "--set", "data.source=records", "--set", "data.path=records",
                                              "--set", "checkpoint.run_name=records"], workingDirectory: folder)
        try #require(onRecords.status == 0, "\(onRecords.standardError)")
        let scored = try BinaryRunner.run(["evaluate", "--checkpoint", "\(folder)/checkpoints/records/latest",
                                           "--data", "\(folder)/clicks.csv", "--format", "json"], workingDirectory: elsewhere)
        #expect(scored.status == 0, "\(scored.standardError)")
        #expect(scored.standardOutput.contains("\"samples\":600"), "every line of the CSV: \(scored.standardOutput)")
    }
}
