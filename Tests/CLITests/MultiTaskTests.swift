import Foundation
import Testing
import TestSupport

/// A model with two tasks, end to end through the binary: the planted synthetic source with a
/// click and a correlated like, a Wide&Deep-shaped network with one output per task. Per-task
/// metrics reach the JSON line, metrics.jsonl (which TensorBoard's events mirror), `evaluate`,
/// the predictions file and the ONNX export; 2 ranks train the model 1 rank does, and a resumed
/// run the uninterrupted one.
@Suite(.serialized) struct MultiTaskTests {
    static let config = """
        model:
          architecture: wide_deep
          embedding_dimension: 8
          table_count: 4
          table_rows: 200
          deep_mlp: [32, 2]
        data:
          dense_features: 5
          synthetic:
            tasks: [click, like]
            train_samples: 24000
            eval_samples: 6000
            crosses: [[0, 1]]
        training:
          batch_size: 300
          log_every: 10
          optimizer:
            algorithm: adagrad
            learning_rate: 0.05
        checkpoint:
          save_final: true
        """

    let scratch = ScratchFolder("recsys-tasks")
    var folder: String { scratch.path }

    func configPath() throws -> String {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = "\(folder)/tasks.yaml"
        try Self.config.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func json(_ output: BinaryRunner.Output) throws -> [String: Any] {
        let line = try #require(output.standardOutput.split(separator: "\n").last)
        return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    func train(ranks: Int = 1, _ overrides: [String], arguments: [String] = []) throws -> [String: Any] {
        let command = ["train", "--config", try configPath(), "--format", "json", "--fingerprints"] + arguments
            + overrides.flatMap { ["--set", $0] }
        let output = ranks == 1 ? try BinaryRunner.run(command, workingDirectory: folder) : try MPIRunner.run(ranks: ranks, command)
        try #require(output.status == 0, "\(ranks) ranks: \(output.standardError)")
        return try json(output)
    }

    static func taskMetrics(_ json: [String: Any], _ task: String) throws -> [String: Any] {
        let tasks = try #require(json["tasks"] as? [String: Any])
        return try #require(tasks[task] as? [String: Any], "no task \(task) in \(tasks.keys)")
    }

    @Test func twoPlantedTasksReachEveryResult() throws {
        let checkpoints = "\(folder)/checkpoints", runs = "\(folder)/runs"
        let result = try train(["checkpoint.directory=\(checkpoints)", "run.directory=\(runs)", "evaluation.every_steps=40"])
        for task in ["click", "like"] {
            let metrics = try Self.taskMetrics(result, task)
            let auc = try #require(metrics["auc"] as? Double), planted = try #require(metrics["planted_auc"] as? Double)
            #expect(auc > 0.62 && planted - auc < 0.08, "\(task): AUC \(auc), planted \(planted)")
            #expect(metrics["logloss"] is Double && metrics["accuracy"] is Double && metrics["calibration"] is Double)
        }
        // The first task's keys stay where a single-task run has them.
        #expect(result["auc"] as? Double == (try Self.taskMetrics(result, "click"))["auc"] as? Double)

        // metrics.jsonl: per task and metric, at every evaluation.
        let run = try #require(try FileManager.default.contentsOfDirectory(atPath: runs).first)
        let lines = try String(contentsOfFile: "\(runs)/\(run)/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        let evaluations = try lines.compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .filter { $0["eval_auc_like"] != nil }
        #expect(evaluations.count >= 2, "\(lines.suffix(3))")
        // Every progress window records each task's part of the loss, which adds up to the loss.
        let windows = try lines.compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .compactMap { line in (line["loss"] as? Double).map { ($0, line["loss_click"] as? Double ?? .nan, line["loss_like"] as? Double ?? .nan) } }
        #expect(windows.count == 8)
        for (loss, click, like) in windows { #expect(abs(loss - click - like) < 1e-9, "\(loss) vs \(click) + \(like)") }
        #expect(evaluations.last?["eval_auc_click"] as? Double == (try Self.taskMetrics(result, "click"))["auc"] as? Double)
        #expect(evaluations.last?["eval_auc_like"] as? Double == (try Self.taskMetrics(result, "like"))["auc"] as? Double)

        // TensorBoard, read by the real tensorboard package: a scalar per task and metric.
        let python = TestPaths.packageRoot + "/.venv-test/bin/python"
        try #require(FileManager.default.fileExists(atPath: python), "\(python) is missing: launch/test.sh installs tensorboard there")
        let script = """
            import json, sys
            from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
            events = EventAccumulator(sys.argv[1])
            events.Reload()
            print(json.dumps({tag: [e.value for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}))
            """
        let board = try BinaryRunner.run(executable: python, ["-c", script, "\(runs)/\(run)"])
        try #require(board.status == 0, "\(board.standardError)")
        let scalars = try #require(try JSONSerialization.jsonObject(with: Data(board.standardOutput.utf8)) as? [String: [Double]])
        for task in ["click", "like"] {
            for metric in ["auc", "logloss", "accuracy", "calibration"] {
                let values = try #require(scalars["eval_\(metric)_\(task)"], "no scalar eval_\(metric)_\(task) in \(scalars.keys.sorted())")
                let expected = try #require((try Self.taskMetrics(result, task))[metric] as? Double)
                #expect(abs((values.last ?? 0) - expected) < 1e-5, "\(metric) of \(task)")
            }
        }

        // evaluate: the same metrics per task, and a predictions file with a pair of columns per task.
        let checkpoint = "\(checkpoints)/tasks/latest", predictions = "\(folder)/predictions.tsv"
        let evaluated = try BinaryRunner.run(["evaluate", "--checkpoint", checkpoint, "--predictions", predictions, "--format", "json"])
        try #require(evaluated.status == 0, "\(evaluated.standardError)")
        let scores = try json(evaluated)
        for task in ["click", "like"] {
            #expect(try Self.taskMetrics(scores, task)["auc"] as? Double == (try Self.taskMetrics(result, task))["auc"] as? Double)
        }
        let header = try String(contentsOfFile: predictions, encoding: .utf8).prefix { $0 != "\n" }
        #expect(header.hasPrefix("label_click\tprobability_click\tlabel_like\tprobability_like\t"), "\(header)")

        // The ONNX export has one output per task, scoring as recsys-dist did.
        try Self.expectExportScoresAsRecsysDist(checkpoint: checkpoint, predictions: predictions, model: "\(folder)/tasks.onnx")
    }

    /// Exports `checkpoint` to `model` and scores it with onnxruntime on the held-out samples
    /// `evaluate` wrote to `predictions` (5 dense features, 4 tables): one output per task
    /// (click, like), each within 1e-5 of recsys-dist's probabilities, with the same AUC.
    static func expectExportScoresAsRecsysDist(checkpoint: String, predictions: String, model: String) throws {
        let python = TestPaths.packageRoot + "/.venv-test/bin/python"
        try #require(FileManager.default.fileExists(atPath: python), "\(python) is missing: launch/test.sh installs onnxruntime there")
        let exported = try BinaryRunner.run(["export", "--checkpoint", checkpoint, "--output", model])
        try #require(exported.status == 0, "\(exported.standardError)")
        let scored = try BinaryRunner.run(executable: python, ["\(TestPaths.packageRoot)/launch/score-onnx.py", model, predictions,
                                                               "--dense", "5", "--tables", "4"])
        try #require(scored.status == 0, "\(scored.standardError)")
        let onnx = try #require(try JSONSerialization.jsonObject(with: Data(scored.standardOutput.utf8)) as? [String: Any])
        let onnxTasks = try #require(onnx["tasks"] as? [String: [String: Double]])
        #expect(Set(onnxTasks.keys) == ["click", "like"])
        for (task, values) in onnxTasks {
            #expect((values["max_abs_difference"] ?? 1) <= 1e-5, "\(model), \(task): \(values)")
            #expect(abs((values["auc_onnx"] ?? 0) - (values["auc_recsys_dist"] ?? 1)) < 1e-4, "\(model), \(task): \(values)")
        }
    }

    /// N ranks = 1 rank, and a resumed run = the uninterrupted one, for the two-task model.
    @Test func twoRanksAndAResumeTrainTheSameModel() throws {
        let short = ["training.max_steps=40", "checkpoint.save_final=false", "run.record=false"]
        let one = try train(short)
        let two = try train(ranks: 2, short)
        let losses1 = try #require(one["losses"] as? [Double]), losses2 = try #require(two["losses"] as? [Double])
        #expect(losses1.count == losses2.count)
        for (a, b) in zip(losses1, losses2) { #expect(abs(a - b) <= 2e-6 * max(abs(a), 1), "losses \(losses1) vs \(losses2)") }
        for key in ["dense_fingerprint", "embedding_fingerprint"] {
            let a = try #require(one[key] as? Double), b = try #require(two[key] as? Double)
            #expect(abs(a - b) <= 1e-3 * max(abs(a), 1e-3), "\(key): \(a) vs \(b)")
        }

        let checkpoints = "\(folder)/resume"
        let whole = try train(["training.max_steps=40", "checkpoint.save_final=false", "run.record=false",
                               "checkpoint.directory=\(checkpoints)-whole"])
        _ = try train(["training.max_steps=20", "checkpoint.save_final=true", "run.record=false", "checkpoint.directory=\(checkpoints)"])
        let resumed = try train(["training.max_steps=40", "checkpoint.save_final=false", "run.record=false",
                                 "checkpoint.directory=\(checkpoints)"], arguments: ["--resume", "latest"])
        for key in ["dense_fingerprint", "embedding_fingerprint"] {
            #expect(resumed[key] as? Double == whole[key] as? Double, "\(key)")
        }
        for task in ["click", "like"] {
            #expect(try Self.taskMetrics(resumed, task)["auc"] as? Double == (try Self.taskMetrics(whole, task))["auc"] as? Double)
        }
    }

    /// A delimited file's `labels:`: two binary tasks and a regression from one rating column;
    /// the records `preprocess` makes hold the three labels and train the same model; records
    /// made for other labels are refused, naming them.
    @Test func delimitedLabelsAndTheirRecords() throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var lines = ["user,item,rating"]
        for i in 0..<1500 {
            let user = i % 37, item = (i * 7) % 23
            lines.append("u\(user),i\(item),\(1 + user % 3 + item % 3)")
        }
        try (lines.joined(separator: "\n") + "\n").write(toFile: "\(folder)/ratings.csv", atomically: true, encoding: .utf8)
        let config = "\(folder)/ratings.yaml"
        let body = """
            model: {architecture: wide_deep, embedding_dimension: 4, table_rows: 64, deep_mlp: [16, 3]}
            data:
              source: SOURCE
              path: PATH
              delimited:
                delimiter: ","
                header: true
                labels:
                  - {name: like, column: rating, positive_if: ">= 4"}
                  - {name: love, column: rating, positive_if: "== 5"}
                  - {name: stars, column: rating, regression: true}
                categorical: [{column: user}, {column: item}]
            training: {batch_size: 50, epochs: 3, log_every: 0, optimizer: {algorithm: adagrad, learning_rate: 0.1}}
            checkpoint: {save_final: false}
            run: {record: false}
            """
        try body.replacingOccurrences(of: "SOURCE", with: "delimited").replacingOccurrences(of: "PATH", with: "\(folder)/ratings.csv")
            .write(toFile: config, atomically: true, encoding: .utf8)
        let trained = try BinaryRunner.run(["train", "--config", config, "--format", "json"])
        try #require(trained.status == 0, "\(trained.standardError)")
        let result = try json(trained)
        for task in ["like", "love"] {
            #expect(((try Self.taskMetrics(result, task))["auc"] as? Double ?? 0) > 0.9, "\(task): \(result)")
        }
        let stars = try Self.taskMetrics(result, "stars")
        #expect((stars["rmse"] as? Double ?? 9) < 1.0 && stars["auc"] == nil, "stars: \(stars)")

        let records = "\(folder)/records"
        let preprocessed = try BinaryRunner.run(["preprocess", "--config", config, "--output", records])
        try #require(preprocessed.status == 0, "\(preprocessed.standardError)")
        let recordsConfig = "\(folder)/records.yaml"
        try body.replacingOccurrences(of: "SOURCE", with: "records").replacingOccurrences(of: "PATH", with: records)
            .write(toFile: recordsConfig, atomically: true, encoding: .utf8)
        let fromRecords = try BinaryRunner.run(["train", "--config", recordsConfig, "--format", "json"])
        try #require(fromRecords.status == 0, "\(fromRecords.standardError)")
        let recordsResult = try json(fromRecords)
        for task in ["like", "love", "stars"] {
            #expect(NSDictionary(dictionary: try Self.taskMetrics(recordsResult, task)) == NSDictionary(dictionary: try Self.taskMetrics(result, task)),
                    "\(task): records train another model")
        }

        let other = try BinaryRunner.run(["train", "--config", recordsConfig, "--set", "data.delimited.labels[2].regression=false",
                                          "--set", "data.delimited.labels[2].positive_if=>= 3"])
        #expect(other.status != 0)
        #expect(other.standardError.contains("records hold the labels of like (binary), love (binary), stars (regression); "
                                             + "the config's are like (binary), love (binary), stars (binary)"), "\(other.standardError)")
    }
}
