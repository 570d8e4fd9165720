import Foundation
import Testing
import TestSupport

/// Checkpoints are never overwritten, mixed or lost behind the user's back (issue 29, items 9,
/// 10, 21, 22 and 23), through the command line; the windows of items 21 and 23 forced open by
/// the debug build's hooks (a slowed open, a rank killed after its files).
@Suite(.serialized) struct CheckpointLineageTests {
    let scratch = ScratchFolder("recsys-lineage")
    var folder: String { scratch.path }
    var run: String { "\(folder)/runs/r" }

    /// 16 steps of DLRM, a checkpoint every 4 (all kept) and at the end.
    func config() throws -> String {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = folder + "/c.yaml"
        try (MultiRankTrainingTests.config + "\nrun:\n  record: false\n")
            .replacingOccurrences(of: "checkpoint:\n  save_final: false",
                                  with: "checkpoint:\n  directory: \(folder)/runs\n  run_name: r\n  every_steps: 4\n  keep_last: 10")
            .write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Every file under the run folder with its bytes, and where each link points (not `.lock`,
    /// which names whichever run holds the folder).
    func snapshot() throws -> [String: Data] {
        var files: [String: Data] = [:]
        let enumerator = try #require(FileManager.default.enumerator(atPath: run))
        while let name = enumerator.nextObject() as? String {
            let path = "\(run)/\(name)"
            if name == ".lock" { continue }
            if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: path) {
                files[name] = Data("-> \(target)".utf8)
                enumerator.skipDescendants()
            } else if let data = FileManager.default.contents(atPath: path) {
                files[name] = data
            }
        }
        return files
    }

    /// A second fresh run in the same folder is refused and writes nothing (its `step-N` and
    /// `best` would replace the first run's); `--overwrite` starts over.
    @Test func aFreshRunNeverWritesOverAnotherRunsCheckpoints() throws {
        let config = try config()
        let first = try BinaryRunner.run(["train", "--config", config, "--set", "training.max_steps=8"])
        try #require(first.status == 0, "\(first.standardError)")
        let before = try snapshot()
        #expect(before["latest"] == Data("-> step-8".utf8))

        let second = try BinaryRunner.run(["train", "--config", config, "--set", "training.seed=5"])
        #expect(second.status != 0)
        #expect(second.standardError.contains("\(run): already holds checkpoints (latest: step-8); continue them with --resume latest, "
                                              + "start over with --overwrite"), "\(second.standardError)")
        #expect(!second.standardOutput.contains("step 1/"), "refused before training")
        #expect(try snapshot() == before, "nothing written")

        let both = try BinaryRunner.run(["train", "--config", config, "--overwrite", "--resume", "latest"])
        #expect(both.status != 0 && both.standardError.contains("--overwrite starts over; --resume continues"), "\(both.standardError)")

        let over = try BinaryRunner.run(["train", "--config", config, "--overwrite", "--set", "training.max_steps=4"])
        try #require(over.status == 0, "\(over.standardError)")
        let after = try snapshot()
        #expect(after["latest"] == Data("-> step-4".utf8))
        #expect(!after.keys.contains { $0.hasPrefix("step-8") }, "the earlier run's checkpoints are gone: \(after.keys.sorted())")
        #expect(after["step-4/dense.h5"] != before["step-4/dense.h5"])
    }

    /// Resuming a finished run says so, evaluates its checkpoint, and writes nothing (it used
    /// to write the last checkpoint again, removing the one `latest` names first).
    @Test func resumingAFinishedRunWritesNothing() throws {
        let config = try config()
        let trained = try BinaryRunner.run(["train", "--config", config, "--set", "training.max_steps=8", "--format", "json"])
        try #require(trained.status == 0, "\(trained.standardError)")
        let before = try snapshot()
        let resumed = try BinaryRunner.run(["train", "--config", config, "--set", "training.max_steps=8", "--resume", "latest",
                                            "--format", "json"])
        try #require(resumed.status == 0, "\(resumed.standardError)")
        #expect(resumed.standardError.contains("nothing left to train: \(run)/latest is at step 8 of 8"), "\(resumed.standardError)")
        #expect(!resumed.standardError.contains("trained 8 steps"), "\(resumed.standardError)")
        #expect(try snapshot() == before, "nothing written")
        func auc(_ output: BinaryRunner.Output) throws -> Double {
            let json = try #require(try JSONSerialization.jsonObject(with: Data(output.standardOutput.split(separator: "\n").last!.utf8)) as? [String: Any])
            return try #require(json["auc"] as? Double)
        }
        #expect(try auc(resumed) == (try auc(trained)), "the checkpoint's own model is evaluated")
    }

    /// Resumed from an earlier step, a run writes its own later checkpoint again: swapped in
    /// whole, `latest` valid, the new weights in place.
    @Test func anOwnCheckpointIsReplacedWhole() throws {
        let config = try config()
        let trained = try BinaryRunner.run(["train", "--config", config, "--set", "training.max_steps=8"])
        try #require(trained.status == 0, "\(trained.standardError)")
        let before = try snapshot()
        let again = try BinaryRunner.run(["train", "--config", config, "--set", "training.max_steps=8", "--resume", "\(run)/step-4",
                                          "--set", "training.optimizer.learning_rate=0.02"])
        try #require(again.status == 0, "\(again.standardError)")
        let after = try snapshot()
        #expect(after["latest"] == Data("-> step-8".utf8))
        #expect(after["step-8/dense.h5"] != nil && after["step-8/dense.h5"] != before["step-8/dense.h5"], "step 8 written again")
        #expect(!after.keys.contains { $0.contains("replaced") || $0.contains("partial") }, "\(after.keys.sorted())")
        let evaluated = try BinaryRunner.run(["evaluate", "--checkpoint", "\(run)/latest"])
        #expect(evaluated.status == 0, "\(evaluated.standardError)")
    }

    /// Item 21's window, forced open: `evaluate --checkpoint …/latest` opens each file 1.5 s
    /// late, and `latest` moves to another step after the first open. The evaluation still
    /// reads one checkpoint, the one `latest` named when it began: the AUC of step 8 itself
    /// (reading each file through `latest` took the later files from step 4).
    @Test func latestMovingWhileEvaluateReadsChangesNothing() throws {
        let config = try config()
        let trained = try BinaryRunner.run(["train", "--config", config, "--set", "training.max_steps=8"])
        try #require(trained.status == 0, "\(trained.standardError)")
        func auc(_ text: String) throws -> Double {
            let json = try #require(try JSONSerialization.jsonObject(with: Data(text.split(separator: "\n").last!.utf8)) as? [String: Any])
            return try #require(json["auc"] as? Double)
        }
        let stepEight = try BinaryRunner.run(["evaluate", "--checkpoint", "\(run)/step-8", "--format", "json"])
        let stepFour = try BinaryRunner.run(["evaluate", "--checkpoint", "\(run)/step-4", "--format", "json"])
        try #require(stepEight.status == 0 && stepFour.status == 0)
        #expect(try auc(stepEight.standardOutput) != (try auc(stepFour.standardOutput)))

        let process = Process()
        process.executableURL = URL(fileURLWithPath: BinaryRunner.binaryPath)
        process.arguments = ["evaluate", "--checkpoint", "\(run)/latest", "--format", "json"]
        process.environment = ProcessInfo.processInfo.environment.merging(["RECSYS_DIST_SLOW_CHECKPOINT_OPEN": "1.5"]) { $1 }
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        // During the first file's pause, `latest` is repointed to step 4 in one rename (as a save does).
        Thread.sleep(forTimeInterval: 0.7)
        try FileManager.default.createSymbolicLink(atPath: "\(run)/latest.moving", withDestinationPath: "step-4")
        #expect(rename("\(run)/latest.moving", "\(run)/latest") == 0)
        let standardOutput = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let standardError = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(standardError)")
        #expect(standardError.contains("test hook: opening") && standardError.contains("step-8/dense.h5"), "\(standardError)")
        #expect(!standardError.contains("step-4/"), "\(standardError)")
        #expect(try auc(standardOutput) == (try auc(stepEight.standardOutput)), "\(standardError)")
    }

    /// Item 23's window, forced open: resumed from step 4, a run writes its step 8 again and is
    /// killed once the new copy is complete, at the moment it is to replace the old one (where
    /// the old remove-then-rename had removed it). `latest` still names the old step 8, whole
    /// (the same bytes, the same AUC); a later run replaces it and leaves nothing behind.
    @Test func aCrashBeforeTheSwapLeavesTheOldCheckpoint() throws {
        let config = try config()
        let trained = try BinaryRunner.run(["train", "--config", config, "--set", "training.max_steps=8", "--format", "json"])
        try #require(trained.status == 0, "\(trained.standardError)")
        let before = try snapshot()
        let again = ["train", "--config", config, "--set", "training.max_steps=8", "--resume", "\(run)/step-4",
                     "--set", "training.optimizer.learning_rate=0.02"]
        let crashed = try BinaryRunner.run(again, environment: ["RECSYS_DIST_CRASH_BEFORE_CHECKPOINT_PLACED": "1"])
        #expect(crashed.status == 99, "\(crashed.standardError)")
        let after = try snapshot()
        #expect(after["latest"] == Data("-> step-8".utf8))
        for name in ["step-8/dense.h5", "step-8/embeddings-rank0.h5"] { #expect(after[name] == before[name], "\(name)") }
        let evaluated = try BinaryRunner.run(["evaluate", "--checkpoint", "\(run)/latest", "--format", "json"])
        try #require(evaluated.status == 0, "\(evaluated.standardError)")
        func auc(_ output: BinaryRunner.Output) throws -> Double {
            let json = try #require(try JSONSerialization.jsonObject(with: Data(output.standardOutput.split(separator: "\n").last!.utf8)) as? [String: Any])
            return try #require(json["auc"] as? Double)
        }
        #expect(try auc(evaluated) == (try auc(trained)))

        let completed = try BinaryRunner.run(again)
        try #require(completed.status == 0, "\(completed.standardError)")
        let final = try snapshot()
        #expect(final["step-8/dense.h5"] != before["step-8/dense.h5"], "step 8 written again")
        #expect(!final.keys.contains { $0.contains("partial") || $0.contains("replaced") }, "\(final.keys.sorted())")
    }

    /// A shard file copied in from another checkpoint is refused: every file of a checkpoint
    /// repeats its id (it used to evaluate to an AUC matching neither step).
    @Test func filesOfTwoCheckpointsAreNeverMixed() throws {
        let config = try config()
        let trained = try BinaryRunner.run(["train", "--config", config, "--set", "training.max_steps=8"])
        try #require(trained.status == 0, "\(trained.standardError)")
        // Item 13: export refuses a missing folder instead of creating it.
        let exported = try BinaryRunner.run(["export", "--checkpoint", "\(run)/latest", "--output", "\(folder)/missing/m.onnx"])
        #expect(exported.status != 0 && exported.standardError == "error: \(folder)/missing: no such folder (create it first)\n",
                "\(exported.standardError)")
        #expect(!FileManager.default.fileExists(atPath: "\(folder)/missing"))
        let underFile = try BinaryRunner.run(["export", "--checkpoint", "\(run)/latest", "--output", "\(folder)/c.yaml/m.onnx"])
        #expect(underFile.standardError == "error: \(folder)/c.yaml: not a folder\n", "item 35: \(underFile.standardError)")
        let shard = "\(run)/step-8/embeddings-rank0.h5"
        try FileManager.default.removeItem(atPath: shard)
        try FileManager.default.copyItem(atPath: "\(run)/step-4/embeddings-rank0.h5", toPath: shard)
        for command in [["evaluate", "--checkpoint", "\(run)/latest"], ["train", "--config", config, "--resume", "latest"]] {
            let mixed = try BinaryRunner.run(command)
            #expect(mixed.status != 0, "\(command[0])")
            #expect(mixed.standardError.contains("\(run)/step-8/embeddings-rank0.h5: belongs to another checkpoint"), "\(mixed.standardError)")
        }
        let missing = try BinaryRunner.run(["evaluate", "--checkpoint", "\(run)/step-99"])
        #expect(missing.status != 0 && missing.standardError.contains("\(run)/step-99: no such checkpoint folder"), "\(missing.standardError)")
    }
}
