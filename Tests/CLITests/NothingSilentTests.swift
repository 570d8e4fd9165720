import Foundation
import Testing
import TestSupport

/// What a new user met on a CSV, through the command line (issue 29): first the two results a
/// trainer must never give silently — a label read as a feature, an empty label read as a
/// negative — through every path that reads delimited text (`train`, `preprocess`, `evaluate
/// --data`); then the friction items, each named by number where it is tested.
@Suite(.serialized) struct NothingSilentTests {
    let scratch = ScratchFolder("recsys-label")
    var folder: String { scratch.path }

    /// id,click,site,device,hour with a header; `emptyLabelLine` (a data line number) has no label,
    /// every 10th line no device.
    func writeData(_ name: String = "clicks.csv", emptyLabelLine: Int? = nil) throws -> String {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var lines = ["id,click,site,device,hour"]
        for i in 0..<400 {
            let click = i + 1 == emptyLabelLine ? "" : "\((i % 13) < 4 ? 1 : 0)"
            lines.append("\(i),\(click),s\(i % 13),\(i % 10 == 0 ? "" : "d\(i % 5)"),\(i % 24)")
        }
        let path = "\(folder)/\(name)"
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func writeConfig(categorical: String = "[{column: site}, {column: device}, {column: 4, buckets: [6, 12, 18]}]",
                     dense: String = "[]") throws -> String {
        let data = try writeData()
        let config = "\(folder)/c.yaml"
        try """
            model: {architecture: wide_deep, embedding_dimension: 4, table_rows: 50, deep_mlp: [8, 1]}
            data:
              source: delimited
              path: \(data)
              eval_fraction: 0.25
              delimited:
                delimiter: ","
                header: true
                label: {column: click}
                dense: \(dense)
                categorical: \(categorical)
            training: {batch_size: 50, epochs: 1, log_every: 0}
            checkpoint: {directory: \(folder)/checkpoints, run_name: clicks}
            run: {record: false}
            """.write(toFile: config, atomically: true, encoding: .utf8)
        return config
    }

    /// The label's column as a categorical feature by name and by number, as a dense feature, in
    /// a flag block and as a history's group: refused by train and preprocess, naming the key.
    @Test func aLabelReadAsAFeatureIsRefused() throws {
        let leaks: [(categorical: String, dense: String, key: String)] = [
            ("[{column: site}, {column: click}]", "[]", "data.delimited.categorical[1].column"),
            ("[{column: site}, {column: 1}]", "[]", "data.delimited.categorical[1].column"),
            ("[{column: site}]", "[{column: 1}]", "data.delimited.dense[0].column"),
            ("[{column: site}, {flags: [1, 1]}]", "[]", "data.delimited.categorical[1].flags"),
            ("[{column: site}, {column: device, history_of: click}]", "[]", "data.delimited.categorical[1].history_of"),
        ]
        for leak in leaks {
            let config = try writeConfig(categorical: leak.categorical, dense: leak.dense)
            for command in [["train", "--config", config], ["preprocess", "--config", config, "--output", "\(folder)/records"]] {
                let run = try BinaryRunner.run(command)
                #expect(run.status != 0, "\(command[0]) \(leak)")
                #expect(run.standardError.contains("key '\(leak.key)': column 1 ('click') is the label"), "\(run.standardError)")
                #expect(!run.standardOutput.contains("held-out"), "\(run.standardOutput)")
            }
            #expect(!FileManager.default.fileExists(atPath: "\(folder)/records"), "nothing written")
        }
    }

    /// `evaluate --data` reads the file with the checkpoint's schema, overridden by `--set`: the
    /// label as a feature is refused there too.
    @Test func evaluateRefusesALabelReadAsAFeature() throws {
        let config = try writeConfig()
        let trained = try BinaryRunner.run(["train", "--config", config])
        try #require(trained.status == 0, "\(trained.standardError)")
        let leaking = try BinaryRunner.run(["evaluate", "--checkpoint", "\(folder)/checkpoints/clicks/latest", "--data", try writeData(),
                                            "--set", "data.delimited.categorical=[{column: click}, {column: device}, {column: 4, buckets: [6, 12, 18]}]"])
        #expect(leaking.status != 0)
        #expect(leaking.standardError.contains("key 'data.delimited.categorical[0].column': column 1 ('click') is the label"),
                "\(leaking.standardError)")
    }

    /// The predictions file starts with a header naming each column as the config does, and
    /// inspect and plan name the tables by it too (item 18).
    @Test func predictionsNameTheirColumns() throws {
        let config = try writeConfig()
        let trained = try BinaryRunner.run(["train", "--config", config])
        try #require(trained.status == 0, "\(trained.standardError)")
        let evaluated = try BinaryRunner.run(["evaluate", "--checkpoint", "\(folder)/checkpoints/clicks/latest", "--predictions", "\(folder)/p.tsv"])
        try #require(evaluated.status == 0, "\(evaluated.standardError)")
        let lines = try String(contentsOfFile: "\(folder)/p.tsv", encoding: .utf8).split(separator: "\n")
        #expect(lines.first == "label\tprobability\tsite\tdevice\tcolumn4.buckets" && lines.count == 101, "\(lines.prefix(2))")
        // inspect and plan name the tables alike.
        let inspected = try BinaryRunner.run(["inspect", "\(folder)/checkpoints/clicks/latest"])
        #expect(inspected.standardOutput.contains("embeddings/table0/weights  50 x 4  (site)"), "\(inspected.standardOutput)")
        let planned = try BinaryRunner.run(["plan", "--config", config])
        #expect(planned.standardOutput.split(separator: "\n").contains { $0.hasPrefix("1       device            50 ") }, "\(planned.standardOutput)")
    }

    /// Distinct values per table, counted by preprocess (stats.json and its output) and by
    /// `plan --data`, with the rows that would hold them (item 14): 13 sites, 5 devices (and the
    /// empty value not counted), 4 hour buckets.
    @Test func distinctValuesAndTableSizesAreCounted() throws {
        let config = try writeConfig()
        let advice = "distinct values per table (model.table_rows → rows that would do): site 13 (50 → 32), device 5 (50 → 16), "
            + "column4.buckets 4 (50 → 8)"
        let planned = try BinaryRunner.run(["plan", "--config", config, "--data"])
        #expect(planned.status == 0 && planned.standardOutput.contains(advice), "\(planned.standardOutput)\(planned.standardError)")
        let preprocessed = try BinaryRunner.run(["preprocess", "--config", config, "--output", "\(folder)/records"])
        try #require(preprocessed.status == 0, "\(preprocessed.standardError)")
        #expect((preprocessed.standardOutput + preprocessed.standardError).contains(advice), "\(preprocessed.standardOutput)")
        let stats = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(folder)/records/stats.json")))
            as? [String: Any])
        #expect(stats["distinctValues"] as? [String: Int] == ["categorical[0]": 13, "categorical[1]": 5, "categorical[2]": 4], "\(stats)")
        #expect(stats["suggestedTableRows"] as? [String: Int] == ["categorical[0]": 32, "categorical[1]": 16, "categorical[2]": 8])
        let oversized = try BinaryRunner.run(["plan", "--config", config, "--data", "--set", "model.table_rows=100000"])
        #expect(oversized.standardOutput.contains("site 13 (100000 → 32, oversized)"), "\(oversized.standardOutput)")
    }

    /// An export ships how raw values become its inputs (`model.onnx.inputs.json`), and the
    /// reference `launch/onnx_inputs.py` applied to the raw CSV gives the inputs recsys-dist
    /// scored: the same row ids (a hashed prefix among them), the same dense values (item 15).
    @Test func exportedModelsShipTheirInputRules() throws {
        let config = try writeConfig(categorical: "[{column: site}, {column: device}, {column: 4, buckets: [6, 12, 18]}, "
                                         + "{column: id, transform: integer, reuse: true}, {column: site, prefix: 2, reuse: true}]",
                                     dense: "[{column: id, transform: log1p}]")
        let trained = try BinaryRunner.run(["train", "--config", config])
        try #require(trained.status == 0, "\(trained.standardError)")
        let exported = try BinaryRunner.run(["export", "--checkpoint", "\(folder)/checkpoints/clicks/latest", "--output", "\(folder)/m.onnx"])
        try #require(exported.status == 0, "\(exported.standardError)")
        let data = "\(folder)/clicks.csv", predictions = "\(folder)/p.tsv"
        let scored = try BinaryRunner.run(["evaluate", "--checkpoint", "\(folder)/checkpoints/clicks/latest", "--data", data,
                                           "--predictions", predictions])
        try #require(scored.status == 0, "\(scored.standardError)")
        let reference = try BinaryRunner.run(executable: "/usr/bin/env", ["python3", "\(TestPaths.packageRoot)/launch/onnx_inputs.py",
                                                                          "\(folder)/m.onnx.inputs.json", data])
        try #require(reference.status == 0, "\(reference.standardError)")
        let expected = try String(contentsOfFile: predictions, encoding: .utf8).split(separator: "\n").dropFirst()
            .map { $0.split(separator: "\t", omittingEmptySubsequences: false).dropFirst(2).map(String.init) }
        let made = reference.standardOutput.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
        #expect(made.count == 400 && expected.count == 400)
        for (ours, theirs) in zip(expected, made) {
            #expect(Array(ours.dropFirst()) == Array(theirs.dropFirst()), "row ids: \(ours) against \(theirs)")
            #expect(abs((Double(ours[0]) ?? .nan) - (Double(theirs[0]) ?? .nan)) < 1e-5, "dense: \(ours[0]) against \(theirs[0])")
        }
    }

    /// A column read by two features is refused unless one says `reuse: true`.
    @Test func aColumnReadTwiceNeedsReuse() throws {
        let twice = try writeConfig(categorical: "[{column: site}, {column: device}, {column: 3}]")
        let refused = try BinaryRunner.run(["train", "--config", twice])
        #expect(refused.status != 0)
        #expect(refused.standardError.contains("key 'data.delimited.categorical[2].column': column 3 ('device') is already read by "
                                               + "data.delimited.categorical[1].column; set reuse: true"), "\(refused.standardError)")
        let reused = try writeConfig(categorical: "[{column: site}, {column: device}, {column: 3, reuse: true}]")
        let trained = try BinaryRunner.run(["train", "--config", reused, "--set", "checkpoint.save_final=false"])
        #expect(trained.status == 0, "\(trained.standardError)")
    }

    /// Friction of a CSV fresh from a spreadsheet (issue 29, items 7, 8 and 12): trailing blank
    /// lines are ignored and counted, a byte-order mark is no part of the first header name, and
    /// a header name given to two columns is refused when a key uses it.
    @Test func blankLinesByteOrderMarksAndDuplicateNames() throws {
        let config = try writeConfig(categorical: "[{column: site}, {column: device}]")
        let data = "\(folder)/clicks.csv"
        let original = try String(contentsOfFile: data, encoding: .utf8)
        try ("\u{FEFF}" + original.replacingOccurrences(of: "id,click", with: "item,click") + "\n\n").write(toFile: data, atomically: true, encoding: .utf8)
        let trained = try BinaryRunner.run(["train", "--config", config, "--set", "data.delimited.categorical=[{column: item}, {column: device}]",
                                            "--set", "checkpoint.save_final=false"])
        #expect(trained.status == 0, "\(trained.standardError)")
        #expect((trained.standardOutput + trained.standardError).contains("400 lines, 2 blank lines ignored"), "\(trained.standardOutput)")

        try original.replacingOccurrences(of: "id,click,site,device,hour", with: "id,click,site,site,hour")
            .write(toFile: data, atomically: true, encoding: .utf8)
        let ambiguous = try BinaryRunner.run(["train", "--config", config])
        #expect(ambiguous.status != 0)
        #expect(ambiguous.standardError.contains("key 'data.delimited.categorical[0].column': the header of \(data) names columns 2 and 3 'site'"),
                "\(ambiguous.standardError)")
    }

    /// A held-out set of one class has no AUC: training goes on, reports its logloss and
    /// "AUC undefined (one class)", and saves its checkpoint; evaluate scores it alike (item 31).
    @Test func aHeldOutSetOfOneClassHasNoAUCButGoesOn() throws {
        let config = try writeConfig()
        let negatives = "\(folder)/negatives.csv"
        try (["id,click,site,device,hour"] + (0..<40).map { "\($0),0,s\($0 % 13),d\($0 % 5),\($0 % 24)" })
            .joined(separator: "\n").write(toFile: negatives, atomically: true, encoding: .utf8)
        let trained = try BinaryRunner.run(["train", "--config", config, "--set", "data.eval_path=\(negatives)", "--format", "json"])
        try #require(trained.status == 0, "\(trained.standardError)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(trained.standardOutput.split(separator: "\n").last!.utf8)) as? [String: Any])
        #expect(json["auc"] is NSNull && (json["logloss"] as? Double ?? 0) > 0, "\(json)")
        let evaluated = try BinaryRunner.run(["evaluate", "--checkpoint", "\(folder)/checkpoints/clicks/latest"])
        #expect(evaluated.status == 0, "\(evaluated.standardError)")
        #expect(evaluated.standardOutput.contains("held-out: AUC undefined (one class)  logloss "), "\(evaluated.standardOutput)")
    }

    /// A FIFO given as the data file is refused at once (issue 29, item 26): opening it would
    /// block until a writer came, in train, evaluate --data and preprocess alike.
    @Test func aPipeIsNoDataFile() throws {
        let config = try writeConfig()
        let fifo = "\(folder)/pipe.csv"
        try #require(mkfifo(fifo, 0o644) == 0)
        for command in [["train", "--config", config, "--set", "data.path=\(fifo)"],
                        ["preprocess", "--config", config, "--set", "data.path=\(fifo)", "--output", "\(folder)/records"]] {
            let run = try BinaryRunner.run(command, timeout: 30)
            #expect(run.status != 0 && run.standardError.contains("\(fifo): not a regular file"), "\(command[0]): \(run.standardError)")
        }
        let trained = try BinaryRunner.run(["train", "--config", config])
        try #require(trained.status == 0, "\(trained.standardError)")
        let scored = try BinaryRunner.run(["evaluate", "--checkpoint", "\(folder)/checkpoints/clicks/latest", "--data", fifo], timeout: 30)
        #expect(scored.status != 0 && scored.standardError.contains("\(fifo): not a regular file"), "\(scored.standardError)")
    }

    /// A wrong column name is named with the config's file and line, and a column number past
    /// the header is the key's mistake, not a data error on line 2 (item 6).
    @Test func wrongColumnsNameTheKeyAndItsLine() throws {
        let misnamed = try writeConfig(categorical: "[{column: site}, {column: devise}]")
        let named = try BinaryRunner.run(["train", "--config", misnamed])
        #expect(named.status != 0)
        #expect(named.standardError.contains("error: \(misnamed):11: key 'data.delimited.categorical[1].column': no column 'devise' "
                                             + "in the header of"), "\(named.standardError)")
        let past = try writeConfig(categorical: "[{column: site}, {column: 9}]")
        for command in [["train", "--config", past], ["preprocess", "--config", past, "--output", "\(folder)/records"]] {
            let run = try BinaryRunner.run(command)
            #expect(run.status != 0)
            #expect(run.standardError.contains("error: \(past):11: key 'data.delimited.categorical[1].column': column 9 is past the last "
                                               + "column of the data (its header has 5: id, click, site, device, hour)"), "\(run.standardError)")
        }
    }

    /// The held-out part as a count (item 4); a header-only file and a divergence from unscaled
    /// dense values say what is wrong (item 17).
    @Test func heldOutCountsHeaderOnlyFilesAndUnscaledValues() throws {
        let config = try writeConfig()
        let counted = try BinaryRunner.run(["train", "--config", config, "--set", "data.eval_count=37", "--set", "data.split=random",
                                            "--set", "checkpoint.save_final=false"])
        #expect(counted.status == 0, "\(counted.standardError)")
        #expect((counted.standardOutput + counted.standardError).contains("363 train / 37 held-out samples"), "\(counted.standardOutput)")

        try "id,click,site,device,hour\n".write(toFile: "\(folder)/clicks.csv", atomically: true, encoding: .utf8)
        let headerOnly = try BinaryRunner.run(["train", "--config", config])
        #expect(headerOnly.status != 0 && headerOnly.standardError.contains("\(folder)/clicks.csv: no data lines (a header line only)"),
                "\(headerOnly.standardError)")

        let huge = (["id,click,site,device,hour"] + (0..<400).map { "\($0),\($0 % 3 == 0 ? 1 : 0),s\($0 % 13),d\($0 % 5),\($0)e30" })
        try huge.joined(separator: "\n").write(toFile: "\(folder)/clicks.csv", atomically: true, encoding: .utf8)
        let diverged = try BinaryRunner.run(["train", "--config", config, "--set", "data.delimited.dense=[{column: hour}]",
                                             "--set", "data.delimited.categorical=[{column: site}, {column: device}]",
                                             "--set", "training.optimizer.algorithm=sgd", "--set", "training.optimizer.learning_rate=0.1"])
        #expect(diverged.status != 0)
        #expect(diverged.standardError.contains("scale the dense columns (transform: log1p)"), "\(diverged.standardError)")
    }

    /// Absurd sizes are one line and status 1 before anything is allocated, in every command
    /// (item 27): they used to end in "Fatal error: failed to allocate" (status 134).
    @Test func absurdSizesAreRefusedBeforeAllocating() throws {
        let config = "\(folder)/synthetic.yaml"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try """
            model: {architecture: dlrm, embedding_dimension: 4, table_count: 2, table_rows: [100, 100], bottom_mlp: [8, 4], top_mlp: [8, 1]}
            data: {synthetic: {train_samples: 4000, eval_samples: 1000}}
            training: {batch_size: 100, log_every: 0}
            checkpoint: {directory: \(folder)/checkpoints, run_name: synthetic}
            run: {record: false}
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let trained = try BinaryRunner.run(["train", "--config", config])
        try #require(trained.status == 0, "\(trained.standardError)")
        let commands: [([String], String)] = [
            (["train", "--config", config, "--overwrite", "--set", "data.synthetic.train_samples=1000000000000"], "are available to it"),
            (["train", "--config", config, "--overwrite", "--set", "training.batch_size=4194304", "--set", "data.dense_features=4096"],
             "are available to it"),
            (["evaluate", "--checkpoint", "\(folder)/checkpoints/synthetic/latest", "--set", "data.synthetic.eval_samples=1000000000000"],
             "are available to it"),
            (["plan", "--config", config, "--ranks", "100000000"], "--ranks must be in 1...1048576"),
            (["bench", "--threads", "100000"], "--threads must be in 1...256"),
        ]
        for (command, expected) in commands {
            let run = try BinaryRunner.run(command, timeout: 120)
            #expect(run.status != 0 && run.status != 134, "\(command): \(run.status)")
            #expect(run.standardError.contains(expected) && !run.standardError.contains("Fatal error"), "\(command): \(run.standardError)")
        }
    }

    /// An empty label is a bad line: an error naming file and line, or skipped and counted with
    /// `--skip-bad-lines`, in train, preprocess and evaluate --data; never a negative. Empty
    /// feature values are counted per feature in the run's first lines and in stats.json.
    @Test func anEmptyLabelIsABadLine() throws {
        let config = try writeConfig()
        let data = try writeData(emptyLabelLine: 7)
        let trained = try BinaryRunner.run(["train", "--config", config])
        #expect(trained.status != 0)
        #expect(trained.standardError.contains("\(data):8: the label (column 1) is empty"), "\(trained.standardError)")
        let skipped = try BinaryRunner.run(["train", "--config", config, "--skip-bad-lines", "--set", "checkpoint.save_final=false"])
        #expect(skipped.status == 0, "\(skipped.standardError)")
        let output = skipped.standardOutput + skipped.standardError
        #expect(output.contains("400 lines, 1 bad lines skipped; empty values: categorical[1] 40"), "\(output)")

        let refused = try BinaryRunner.run(["preprocess", "--config", config, "--output", "\(folder)/records"])
        #expect(refused.status != 0 && refused.standardError.contains("\(data):8: the label (column 1) is empty"), "\(refused.standardError)")
        let preprocessed = try BinaryRunner.run(["preprocess", "--config", config, "--output", "\(folder)/records", "--skip-bad-lines"])
        try #require(preprocessed.status == 0, "\(preprocessed.standardError)")
        let stats = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(folder)/records/stats.json")))
            as? [String: Any])
        #expect(stats["badLines"] as? Int == 1, "\(stats)")
        #expect(stats["emptyValues"] as? [String: Int] == ["categorical[0]": 0, "categorical[1]": 40, "categorical[2]": 0], "\(stats)")

        // A model trained on good data scores a file with an empty label: an error, not a negative.
        _ = try writeData()
        let good = try BinaryRunner.run(["train", "--config", config])
        try #require(good.status == 0, "\(good.standardError)")
        let scored = try BinaryRunner.run(["evaluate", "--checkpoint", "\(folder)/checkpoints/clicks/latest",
                                           "--data", try writeData("scored.csv", emptyLabelLine: 3)])
        #expect(scored.status != 0)
        #expect(scored.standardError.contains("\(folder)/scored.csv:4: the label (column 1) is empty"), "\(scored.standardError)")
    }
}
