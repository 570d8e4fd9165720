import Foundation
import Testing
import TestSupport

/// Checkpoints through the command line, with real mpirun: exact resume, resharding to another
/// number of ranks, evaluation across ranks, crashes while writing, and bad checkpoints.
@Suite(.serialized) struct CheckpointResumeTests {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("recsys-resume-\(UUID().uuidString)").path

    func config() throws -> String {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = folder + "/c.yaml"
        try (MultiRankTrainingTests.config + "\n")
            .replacingOccurrences(of: "checkpoint:\n  save_final: false", with: "checkpoint:\n  directory: \(folder)/runs")
            .write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    struct Run {
        let losses: [Double]
        let auc: Double
        let standardError: String
    }

    func train(ranks: Int, _ arguments: [String], environment: [String: String] = [:]) throws -> Run {
        let all = ["train", "--config", try config(), "--format", "json"] + arguments
        let output = ranks == 1 ? try BinaryRunner.run(all, environment: environment)
                                : try MPIRunner.run(ranks: ranks, all, environment: environment)
        try #require(output.status == 0, "\(output.standardError)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(output.standardOutput.split(separator: "\n").last!.utf8)) as? [String: Any])
        return Run(losses: json["losses"] as! [Double], auc: json["auc"] as! Double, standardError: output.standardError)
    }

    /// 16 steps straight, and 8 steps then a resume for the other 8: the resumed run's losses
    /// are the uninterrupted run's, bit for bit (one BLAS thread, same ranks, same data order).
    @Test(arguments: [1, 2])
    func resumeIsExact(ranks: Int) throws {
        let straight = try train(ranks: ranks, ["--set", "checkpoint.run_name=straight"])
        _ = try train(ranks: ranks, ["--set", "checkpoint.run_name=split", "--set", "training.max_steps=8"])
        let resumed = try train(ranks: ranks, ["--set", "checkpoint.run_name=split", "--resume", "latest"])
        #expect(resumed.standardError.contains("resumed from \(folder)/runs/split/latest: step 8"))
        #expect(resumed.losses == Array(straight.losses.suffix(8)), "\(ranks) ranks")
        #expect(resumed.auc == straight.auc)
    }

    /// Written by 2 ranks, resumed on 1 and on 4: the rows are re-sharded on load and training
    /// continues as the uninterrupted run does, to float rounding.
    @Test func resumeOnAnotherNumberOfRanks() throws {
        let straight = try train(ranks: 1, ["--set", "checkpoint.run_name=straight"])
        _ = try train(ranks: 2, ["--set", "checkpoint.run_name=two", "--set", "training.max_steps=8"])
        for ranks in [1, 4] {
            let resumed = try train(ranks: ranks, ["--set", "checkpoint.run_name=two", "--set", "checkpoint.save_final=false",
                                                   "--resume", "\(folder)/runs/two/step-8"])
            #expect(resumed.standardError.contains("written by 2 rank(s), loaded on \(ranks)"))
            for (a, b) in zip(resumed.losses, straight.losses.suffix(8)) {
                #expect(abs(a - b) <= 2e-6 * abs(b), "\(ranks) ranks: \(a) vs \(b)")
            }
            #expect(abs(resumed.auc - straight.auc) < 1e-5)
        }
    }

    @Test func evaluateGivesTheSameAUCOnOneAndTwoRanks() throws {
        let trained = try train(ranks: 1, ["--set", "checkpoint.run_name=eval"])
        var aucs: [Double] = []
        for ranks in [1, 2] {
            let arguments = ["evaluate", "--checkpoint", "\(folder)/runs/eval/latest", "--format", "json"]
            let output = ranks == 1 ? try BinaryRunner.run(arguments) : try MPIRunner.run(ranks: ranks, arguments)
            try #require(output.status == 0, "\(output.standardError)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(output.standardOutput.split(separator: "\n").last!.utf8)) as? [String: Any])
            aucs.append(json["auc"] as! Double)
        }
        #expect(abs(aucs[0] - trained.auc) < 1e-9)
        #expect(abs(aucs[1] - aucs[0]) < 1e-6, "AUC over the whole set, computed across ranks: \(aucs)")
    }

    /// A crash after each file of the second checkpoint leaves `latest` on the first, and a
    /// resume from it works.
    @Test(arguments: [1, 2])
    func aCrashWhileWritingLeavesThePreviousCheckpoint(filesBeforeCrash: Int) throws {
        let run = "crash\(filesBeforeCrash)"
        // every_steps 4: the first checkpoint (2 files) at step 4, the crash inside the second at step 8.
        let output = try BinaryRunner.run(["train", "--config", try config(), "--set", "checkpoint.run_name=\(run)",
                                           "--set", "checkpoint.every_steps=4"],
                                          environment: ["RECSYS_DIST_CRASH_AFTER_CHECKPOINT_FILES": "\(2 + filesBeforeCrash)"])
        #expect(output.status != 0)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "\(folder)/runs/\(run)/latest") == "step-4")
        let resumed = try train(ranks: 1, ["--set", "checkpoint.run_name=\(run)", "--resume", "latest"])
        #expect(resumed.standardError.contains("step 4,"))
        #expect(resumed.losses.count == 12)
    }

    @Test func badCheckpointsAreNamedBeforeTraining() throws {
        _ = try train(ranks: 1, ["--set", "checkpoint.run_name=bad", "--set", "training.max_steps=2"])
        let other = try BinaryRunner.run(["train", "--config", try config(), "--set", "checkpoint.run_name=bad",
                                          "--set", "model.table_rows=[50, 3000, 200, 80, 999]", "--resume", "latest"])
        #expect(other.status != 0)
        #expect(other.standardError.contains("\(folder)/runs/bad/latest/dense.h5: checkpoint is from another model"),
                "\(other.standardError)")
        let missing = try BinaryRunner.run(["train", "--config", try config(), "--resume", "\(folder)/runs/none"])
        #expect(missing.status != 0 && missing.standardError.contains("\(folder)/runs/none/dense.h5: cannot open"))
    }

    @Test func inspectShowsStepTablesAndShapes() throws {
        _ = try train(ranks: 2, ["--set", "checkpoint.run_name=inspect", "--set", "training.max_steps=3"])
        let output = try BinaryRunner.run(["inspect", "\(folder)/runs/inspect/latest"])
        #expect(output.status == 0, "\(output.standardError)")
        #expect(output.standardOutput.contains("step 3, epoch 1"))
        #expect(output.standardOutput.contains("written by 2 rank(s)"))
        #expect(output.standardOutput.contains("embeddings/table1/weights  3000 x 8"))
        #expect(output.standardOutput.contains("dense/top_mlp/layer0/weight  16 x 23"))
    }
}
