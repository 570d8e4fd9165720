import Foundation
import Testing
import TestSupport

/// The run directory: metrics.jsonl parsed line by line, and the TensorBoard event files read
/// by the real `tensorboard` package (installed by launch/test.sh into .venv-test).
@Suite(.serialized) struct RunRecordTests {
    static let root = TestPaths.packageRoot

    func trainRecorded(_ extra: [String] = []) throws -> (json: [String: Any], folder: String) {
        let folder = ScratchFolder.path("recsys-runs")
        let config = folder + ".yaml"
        try CommandLineTests.smallConfig.replacingOccurrences(of: "checkpoint:\n  save_final: false", with: """
            checkpoint:
              directory: \(folder)/checkpoints
            run:
              name: small
              directory: \(folder)/runs
            """).write(toFile: config, atomically: true, encoding: .utf8)
        let output = try BinaryRunner.run(["train", "--config", config, "--format", "json"] + extra)
        try #require(output.status == 0, "\(output.standardError)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(output.standardOutput.split(separator: "\n").last!.utf8)) as? [String: Any])
        return (json, folder)
    }

    @Test func metricsLinesAndRunInformation() throws {
        let (json, folder) = try trainRecorded(["--set", "evaluation.every_steps=20"])
        let run = try #require(json["run_directory"] as? String)
        #expect(run.hasPrefix("\(folder)/runs/small-"))
        let lines = try String(contentsOfFile: run + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        let objects = try lines.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        let training = objects.filter { $0["loss"] != nil }, evaluations = objects.filter { $0["eval_auc"] != nil }
        #expect(training.map { $0["step"] as? Int } == [10, 20, 30, 40])
        #expect(training.last?["samples"] as? Double == 4000)
        #expect(training.allSatisfy { abs(($0["learning_rate"] as? Double ?? 0) - 0.05) < 1e-7 && ($0["samples_per_second"] as? Double ?? 0) > 0 })
        #expect(zip(training.compactMap { $0["loss"] as? Double }, json["losses"] as! [Double]).allSatisfy { abs($0 - $1) < 1e-6 })
        #expect(evaluations.map { $0["step"] as? Int } == [20, 40], "during training at step 20, and at the end")
        #expect(abs((evaluations.last?["eval_auc"] as? Double ?? 0) - (json["auc"] as! Double)) < 1e-6)
        let info = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: run + "/run.json"))) as? [String: Any])
        #expect(info["world_size"] as? Int == 1 && (info["hosts"] as? [String])?.count == 1)
        #expect(try String(contentsOfFile: run + "/config.yaml", encoding: .utf8).contains("architecture: dlrm"))
    }

    @Test func tensorBoardReadsTheScalars() throws {
        let python = Self.root + "/.venv-test/bin/python"
        try #require(FileManager.default.fileExists(atPath: python),
                     "\(python) is missing: launch/test.sh installs tensorboard there")
        let (json, _) = try trainRecorded()
        let run = try #require(json["run_directory"] as? String)
        let script = """
            import json, sys
            from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
            events = EventAccumulator(sys.argv[1])
            events.Reload()
            print(json.dumps({tag: [[e.step, e.value] for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}))
            """
        let output = try BinaryRunner.run(executable: python, ["-c", script, run])
        try #require(output.status == 0, "\(output.standardError)")
        let scalars = try #require(try JSONSerialization.jsonObject(with: Data(output.standardOutput.utf8)) as? [String: [[Double]]])
        let loss = try #require(scalars["loss"])
        #expect(loss.map { Int($0[0]) } == [10, 20, 30, 40])
        for (point, expected) in zip(loss, json["losses"] as! [Double]) { #expect(abs(point[1] - expected) < 1e-5) }
        #expect(scalars["eval_auc"]?.map { Int($0[0]) } == [40])
        #expect(abs((scalars["eval_auc"]?.last?[1] ?? 0) - (json["auc"] as! Double)) < 1e-5)
        #expect(scalars["learning_rate"]?.allSatisfy { abs($0[1] - 0.05) < 1e-7 } == true)
    }

    @Test func earlyStoppingAndTheBestCheckpoint() throws {
        let (json, folder) = try trainRecorded(["--set", "evaluation.every_steps=10", "--set", "evaluation.early_stop_auc=0.6",
                                                "--set", "checkpoint.keep_best=true", "--set", "training.epochs=5"])
        #expect(json["stopped_early"] as? Bool == true)
        let steps = try #require(json["steps"] as? Int)
        #expect(steps < 200 && steps % 10 == 0, "stopped at an evaluation, before the 200 steps of 5 epochs")
        let best = try FileManager.default.destinationOfSymbolicLink(atPath: "\(folder)/checkpoints/small/best")
        #expect(FileManager.default.fileExists(atPath: "\(folder)/checkpoints/small/\(best)/dense.h5"))
    }
}
