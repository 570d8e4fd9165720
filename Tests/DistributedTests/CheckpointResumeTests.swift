import Foundation
import Testing
import TestSupport

/// Checkpoints through the command line, with real mpirun: exact resume, resharding to another
/// number of ranks, evaluation across ranks, crashes while writing, and bad checkpoints.
@Suite(.serialized) struct CheckpointResumeTests {
    let runs = CheckpointRuns()
    var folder: String { runs.folder }
    func config() throws -> String { try runs.config() }
    func train(ranks: Int, _ arguments: [String], environment: [String: String] = [:]) throws -> CheckpointRuns.Run {
        try runs.train(ranks: ranks, arguments, environment: environment)
    }

    /// 16 steps straight, and 8 steps then a resume for the other 8: the resumed run's losses
    /// are the uninterrupted run's, bit for bit (one BLAS thread, same ranks, same data order),
    /// for every model.
    @Test(arguments: ["dlrm", "wide_deep", "dcnv2", "deepfm", "bst"], [1, 2])
    func resumeIsExact(architecture: String, ranks: Int) throws {
        let model = ["--set", "model.architecture=\(architecture)"]
        let straight = try train(ranks: ranks, model + ["--set", "checkpoint.run_name=straight-\(architecture)-\(ranks)"])
        _ = try train(ranks: ranks, model + ["--set", "checkpoint.run_name=split-\(architecture)-\(ranks)", "--set", "training.max_steps=8"])
        let resumed = try train(ranks: ranks, model + ["--set", "checkpoint.run_name=split-\(architecture)-\(ranks)", "--resume", "latest"])
        #expect(resumed.standardError.contains("resumed from \(folder)/runs/split-\(architecture)-\(ranks)/latest: step 8"))
        #expect(resumed.losses == Array(straight.losses.suffix(8)), "\(architecture), \(ranks) ranks")
        #expect(resumed.auc == straight.auc)
    }

    /// The two-tower retriever resumes exactly on 1 and 2 ranks: the same losses and Recall@10.
    @Test(arguments: [1, 2])
    func twoTowerResumesExactly(ranks: Int) throws {
        let model = ["--set", "model.architecture=two_tower", "--set", "model.item_tables=[3, 4]", "--set", "model.tower_mlp=[16, 8]"]
        let straight = try train(ranks: ranks, model + ["--set", "checkpoint.run_name=straight-two-tower-\(ranks)"])
        _ = try train(ranks: ranks, model + ["--set", "checkpoint.run_name=split-two-tower-\(ranks)", "--set", "training.max_steps=8"])
        let resumed = try train(ranks: ranks, model + ["--set", "checkpoint.run_name=split-two-tower-\(ranks)", "--resume", "latest"])
        #expect(resumed.losses == Array(straight.losses.suffix(8)), "\(ranks) ranks")
        #expect(resumed.auc == straight.auc && resumed.auc > 0)
    }

    /// The multitask rankers on two planted tasks (a two-level PLE): exact resume on 1 and 2
    /// ranks; and written by 2 ranks, resumed on 1 and on 4 to float rounding (with SGD, as
    /// `MultiRankTrainingTests` says why).
    @Test(arguments: ["shared_bottom", "mmoe", "ple"])
    func multitaskRankersResume(architecture: String) throws {
        let model = ["--set", "model.architecture=\(architecture)", "--set", "data.synthetic.tasks=[click, like]",
                     "--set", "training.optimizer.algorithm=sgd"]
        for ranks in [1, 2] {
            let name = "\(architecture)-\(ranks)"
            let straight = try train(ranks: ranks, model + ["--set", "checkpoint.run_name=straight-\(name)"])
            _ = try train(ranks: ranks, model + ["--set", "checkpoint.run_name=split-\(name)", "--set", "training.max_steps=8"])
            let resumed = try train(ranks: ranks, model + ["--set", "checkpoint.run_name=split-\(name)", "--resume", "latest"])
            #expect(resumed.losses == Array(straight.losses.suffix(8)), "\(architecture), \(ranks) ranks")
            #expect(resumed.auc == straight.auc)
            guard ranks == 2 else { continue }
            for other in [1, 4] {
                let moved = try train(ranks: other, model + ["--set", "checkpoint.run_name=split-\(name)", "--set", "checkpoint.save_final=false",
                                                             "--resume", "\(folder)/runs/split-\(name)/step-8"])
                #expect(moved.standardError.contains("written by 2 rank(s), loaded on \(other)"))
                for (a, b) in zip(moved.losses, straight.losses.suffix(8)) {
                    #expect(abs(a - b) <= 2e-6 * abs(b), "\(architecture) on \(other) ranks: \(a) vs \(b)")
                }
                #expect(abs(moved.auc - straight.auc) < 1e-5)
            }
        }
    }

    /// bf16 matrix products round the same operands in the same shapes after a resume: still
    /// bit for bit (the checkpoint holds the fp32 parameters and optimizer state).
    @Test(arguments: [1, 2])
    func bfloat16ResumeIsExact(ranks: Int) throws {
        let bf16 = ["--set", "training.precision=bf16"]
        let straight = try train(ranks: ranks, bf16 + ["--set", "checkpoint.run_name=straight-bf16-\(ranks)"])
        _ = try train(ranks: ranks, bf16 + ["--set", "checkpoint.run_name=split-bf16-\(ranks)", "--set", "training.max_steps=8"])
        let resumed = try train(ranks: ranks, bf16 + ["--set", "checkpoint.run_name=split-bf16-\(ranks)", "--resume", "latest"])
        #expect(resumed.losses == Array(straight.losses.suffix(8)), "bf16, \(ranks) ranks")
        #expect(resumed.auc == straight.auc)
    }

    /// Tables stored in bf16 resume exactly on 1 and 2 ranks (Wide&Deep's width-1 wide tables
    /// included): the checkpoint holds the rows' exact values and the stochastic rounding is
    /// drawn from (seed, step, table, row), so the resumed run rounds as the uninterrupted one.
    /// The rows are bf16 (the run differs from fp32 tables'), and the checkpoint also resumes
    /// into fp32 tables, close to the bf16 run. Wide&Deep keeps Adam's moments in bf16 too.
    @Test(arguments: ["dlrm", "wide_deep"], [1, 2])
    func bfloat16TablesResumeExactly(architecture: String, ranks: Int) throws {
        let model = ["--set", "model.architecture=\(architecture)"]
        let bf16 = model + ["--set", "model.table_precision=bf16"]
            + (architecture == "wide_deep" ? ["--set", "training.optimizer.table_state_precision=bf16"] : [])
        let name = "\(architecture)-\(ranks)"
        let straight = try train(ranks: ranks, bf16 + ["--set", "checkpoint.run_name=straight-bf16-tables-\(name)"])
        let fp32 = try train(ranks: ranks, model + ["--set", "checkpoint.run_name=fp32-tables-\(name)", "--set", "training.max_steps=8"])
        #expect(fp32.losses.last != straight.losses[7], "bf16 rows train otherwise than fp32 rows")
        _ = try train(ranks: ranks, bf16 + ["--set", "checkpoint.run_name=split-bf16-tables-\(name)", "--set", "training.max_steps=8"])
        let resumed = try train(ranks: ranks, bf16 + ["--set", "checkpoint.run_name=split-bf16-tables-\(name)", "--resume", "latest"])
        #expect(resumed.losses == Array(straight.losses.suffix(8)), "bf16 tables, \(architecture), \(ranks) ranks")
        #expect(resumed.auc == straight.auc)
        // `inspect` says how the rows were stored; fp32 tables' checkpoints say nothing of it.
        for (run, stored) in [("split-bf16-tables-\(name)", true), ("fp32-tables-\(name)", false)] {
            let inspected = try BinaryRunner.run(["inspect", "\(folder)/runs/\(run)/step-8"])
            #expect(inspected.status == 0 && inspected.standardOutput.contains("rows stored in bf16") == stored,
                    "\(inspected.standardOutput)\(inspected.standardError)")
        }
        let widened = try train(ranks: ranks, model + ["--set", "checkpoint.run_name=split-bf16-tables-\(name)", "--set",
                                                       "checkpoint.save_final=false", "--resume", "\(folder)/runs/split-bf16-tables-\(name)/step-8"])
        for (a, b) in zip(widened.losses, straight.losses.suffix(8)) {
            #expect(abs(a - b) <= 1e-3 * abs(b), "bf16 checkpoint resumed with fp32 tables: \(a) vs \(b)")
        }
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

    /// The separate-memory backend (its memory has no host address: every number crosses by an
    /// explicit copy, the MPI transport stages through the host) trains DLRM and Wide&Deep on 1
    /// and 2 ranks, through a checkpoint and a resume, to the CPU backend's per-step losses, and
    /// evaluates the checkpoint the CPU backend wrote to the same AUC.
    @Test(arguments: ["dlrm", "wide_deep"], [1, 2])
    func separateMemoryBackendTrainsAsTheCPUBackend(architecture: String, ranks: Int) throws {
        let model = ["--set", "model.architecture=\(architecture)"]
        let cpuRun = "cpu-\(architecture)-\(ranks)"
        let cpu = try train(ranks: ranks, model + ["--set", "checkpoint.run_name=\(cpuRun)"])
        let separate = model + ["--set", "training.backend=separate_memory", "--set", "checkpoint.run_name=separate-\(architecture)-\(ranks)"]
        let first = try train(ranks: ranks, separate + ["--set", "training.max_steps=8"])
        let resumed = try train(ranks: ranks, separate + ["--resume", "latest"])
        #expect(first.standardError.contains("separate-memory backend") && cpu.standardError.contains("cpu backend"))
        let losses = first.losses + resumed.losses
        #expect(losses.count == cpu.losses.count && losses.count == 16)
        for (step, (a, b)) in zip(cpu.losses, losses).enumerated() {
            #expect(abs(a - b) <= 1e-6, "\(architecture) on \(ranks) rank(s), step \(step + 1): cpu \(a), separate memory \(b)")
        }
        #expect(abs(resumed.auc - cpu.auc) < 1e-6)

        let arguments = ["evaluate", "--checkpoint", "\(folder)/runs/\(cpuRun)/latest", "--set", "training.backend=separate_memory",
                         "--format", "json"]
        let output = ranks == 1 ? try BinaryRunner.run(arguments) : try MPIRunner.run(ranks: ranks, arguments)
        try #require(output.status == 0, "\(output.standardError)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(output.standardOutput.split(separator: "\n").last!.utf8)) as? [String: Any])
        #expect(abs(json["auc"] as! Double - cpu.auc) < 1e-6)
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

    /// A rank killed at each file boundary of the second checkpoint (1 rank: after its shard
    /// file, after dense.h5; 2 ranks: rank 1 after its shard, rank 0 after its shard, rank 0
    /// after dense.h5, before the rename) leaves `latest` on the first, intact and loadable;
    /// the next run clears the partial folder and resumes from it.
    @Test(arguments: [(ranks: 1, rank: 0, file: 3), (ranks: 1, rank: 0, file: 4),
                      (ranks: 2, rank: 1, file: 2), (ranks: 2, rank: 0, file: 3), (ranks: 2, rank: 0, file: 4)])
    func aCrashWhileWritingLeavesThePreviousCheckpoint(ranks: Int, rank: Int, file: Int) throws {
        let run = "crash\(ranks)-\(rank)-\(file)"
        // every_steps 4: the first checkpoint at step 4 (rank 0 writes files 1 and 2, rank 1 file 1),
        // the crash inside the second, at step 8.
        let arguments = ["train", "--config", try config(), "--set", "checkpoint.run_name=\(run)", "--set", "checkpoint.every_steps=4"]
        let environment = ["RECSYS_DIST_CRASH_AFTER_CHECKPOINT_FILES": "\(file)", "RECSYS_DIST_CRASH_RANK": "\(rank)"]
        let output = ranks == 1 ? try BinaryRunner.run(arguments, environment: environment)
                                : try MPIRunner.run(ranks: ranks, arguments, timeout: 60, environment: environment)
        #expect(output.status != 0)
        #expect(output.standardError.contains("test hook: rank \(rank) crashing after checkpoint file \(file)"), "\(output.standardError)")
        #expect(output.standardError.contains("warning: RECSYS_DIST_CRASH_AFTER_CHECKPOINT_FILES=\(file) is set: a test hook"),
                "the hook says it is armed (issue 29, item 37)")
        let folder = "\(self.folder)/runs/\(run)"
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "\(folder)/latest") == "step-4")
        let evaluated = try BinaryRunner.run(["evaluate", "--checkpoint", "\(folder)/latest"])
        #expect(evaluated.status == 0, "the previous checkpoint loads: \(evaluated.standardError)")
        let resumed = try train(ranks: ranks, ["--set", "checkpoint.run_name=\(run)", "--resume", "latest"])
        #expect(resumed.standardError.contains("step 4,"))
        #expect(resumed.losses.count == 12)
        let left = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".partial") }
        #expect(left.isEmpty, "no partial folder is left: \(left)")
    }

    @Test func badCheckpointsAreNamedBeforeTraining() throws {
        _ = try train(ranks: 1, ["--set", "checkpoint.run_name=bad", "--set", "training.max_steps=2"])
        let other = try BinaryRunner.run(["train", "--config", try config(), "--set", "checkpoint.run_name=bad",
                                          "--set", "model.table_rows=[50, 3000, 200, 80, 999]", "--resume", "latest"])
        #expect(other.status != 0)
        #expect(other.standardError.contains("\(folder)/runs/bad/latest/dense.h5: checkpoint is from another model"),
                "\(other.standardError)")
        let missing = try BinaryRunner.run(["train", "--config", try config(), "--resume", "\(folder)/runs/none"])
        #expect(missing.status != 0 && missing.standardError.contains("\(folder)/runs/none: no such checkpoint folder"),
                "\(missing.standardError)")
    }

    /// After a resume, samples/s counts only the samples this run trained (issue 10, item 13).
    @Test func samplesPerSecondCountsOnlyThisRun() throws {
        _ = try train(ranks: 1, ["--set", "checkpoint.run_name=rate", "--set", "training.max_steps=8"])
        let output = try BinaryRunner.run(["train", "--config", try config(), "--set", "checkpoint.run_name=rate",
                                           "--resume", "latest", "--format", "json"])
        try #require(output.status == 0, "\(output.standardError)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(output.standardOutput.split(separator: "\n").last!.utf8)) as? [String: Any])
        let rate = try #require(json["samples_per_second"] as? Double), seconds = try #require(json["train_seconds"] as? Double)
        #expect(json["samples"] as? Int == 16 * 250)
        #expect(abs(rate * seconds - 8 * 250) < 1, "8 steps of 250 this run: \(rate) samples/s over \(seconds) s")
    }

    /// SIGTERM to every rank, as Slurm's preemption delivers it (a mpirun started from a shell
    /// forwards its own SIGTERM and Ctrl-C to the ranks the same way): every rank finishes its
    /// step, a final checkpoint is written, and resuming from it gives the uninterrupted run's
    /// losses (issue 10, item 10).
    @Test func sigtermSavesAFinalCheckpointAndResumesExactly() throws {
        let long = ["--set", "training.epochs=40", "--set", "checkpoint.every_steps=20"]
        let straight = try train(ranks: 2, ["--set", "checkpoint.run_name=uninterrupted"] + long)
        let arguments = ["train", "--config", try config(), "--set", "checkpoint.run_name=signalled"] + long
        let latest = "\(folder)/runs/signalled/latest"
        let stopped = try BinaryRunner.run(executable: "/usr/bin/mpirun",
                                           ["--allow-run-as-root", "--oversubscribe", "-np", "2", BinaryRunner.binaryPath] + arguments,
                                           started: { mpirun in
                                               // Signal once training is under way (its first checkpoint exists).
                                               DispatchQueue.global().async {
                                                   for _ in 0..<600 where !FileManager.default.fileExists(atPath: latest) { usleep(20_000) }
                                                   for rank in Self.children(of: mpirun.processIdentifier) { kill(rank, SIGTERM) }
                                               }
                                           })
        #expect(stopped.status != 0, "\(stopped.standardOutput.suffix(300))")
        let message = try #require(stopped.standardError.split(separator: "\n").first { $0.hasPrefix("stopped by SIGTERM after step ") },
                                   "\(stopped.standardError)")
        let step = try #require(Int(message.dropFirst("stopped by SIGTERM after step ".count).prefix { $0.isNumber }))
        #expect(message.contains("checkpoint \(folder)/runs/signalled/step-\(step) written"))
        #expect(step >= 20 && step < 640, "stopped part-way, at step \(step)")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: latest) == "step-\(step)")
        let resumed = try train(ranks: 2, ["--set", "checkpoint.run_name=signalled", "--resume", "latest"] + long)
        #expect(resumed.losses == Array(straight.losses.suffix(640 - step)), "resumed from step \(step)")
        #expect(resumed.auc == straight.auc)
    }

    /// The processes whose parent is `parent` (from /proc).
    static func children(of parent: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { Int32($0) }.filter { pid in
            // /proc/<pid>/stat: "pid (name) state ppid ..."; the name may hold spaces, so read after ")".
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && Int32(fields[1]) == parent
        }
    }

    /// Every file of a checkpoint is checked before use (issue 10, item 1): a missing,
    /// truncated or damaged file of a 2-rank checkpoint (replicated, row-wise and table-wise
    /// tables) is refused by `evaluate` and `--resume`, naming the file and the dataset, on 1
    /// and 2 ranks; never read as zeros.
    @Test func damagedCheckpointFilesAreRefusedNamingFileAndDataset() throws {
        _ = try train(ranks: 2, ["--set", "checkpoint.run_name=damaged", "--set", "training.max_steps=4"])
        let intact = "\(folder)/runs/damaged/step-4"
        func damaged(_ name: String, _ damage: (String) throws -> Void) throws -> String {
            let copy = "\(folder)/\(name)"
            try FileManager.default.copyItem(atPath: intact, toPath: copy)
            try damage(copy)
            return copy
        }
        let cases: [(checkpoint: String, ranks: Int, message: String)] = [
            (try damaged("missing1") { try FileManager.default.removeItem(atPath: "\($0)/embeddings-rank1.h5") }, 1,
             "missing1/embeddings-rank1.h5: missing"),
            (try damaged("missing1-on2") { try FileManager.default.removeItem(atPath: "\($0)/embeddings-rank1.h5") }, 2,
             "missing1-on2/embeddings-rank1.h5: missing"),
            (try damaged("truncated0") { try Self.truncate("\($0)/embeddings-rank0.h5") }, 1,
             "truncated0/embeddings-rank0.h5: cannot open"),
            (try damaged("flipped-rowwise") { try Self.flipBit(in: "\($0)/embeddings-rank1.h5", dataset: "/embeddings/table1/weights") }, 2,
             "flipped-rowwise/embeddings-rank1.h5: 'embeddings/table1/weights' does not match its checksum"),
            (try damaged("flipped-dense") { try Self.flipBit(in: "\($0)/dense.h5", dataset: "/dense/top_mlp/layer0/weight") }, 1,
             "flipped-dense/dense.h5: 'dense/top_mlp/layer0/weight' does not match its checksum"),
        ]
        for item in cases {
            let arguments = ["evaluate", "--checkpoint", item.checkpoint]
            let evaluated = item.ranks == 1 ? try BinaryRunner.run(arguments) : try MPIRunner.run(ranks: item.ranks, arguments)
            #expect(evaluated.status != 0 && evaluated.standardError.contains(item.message),
                    "evaluate \(item.checkpoint) on \(item.ranks) rank(s): \(evaluated.standardError)")
        }
        // --resume reads the optimizer state too (evaluate does not need it): a flipped bit there stops the resume.
        let state = try damaged("flipped-state") {
            try Self.flipBit(in: "\($0)/embeddings-rank0.h5", dataset: "/embeddings/table0/optimizer_second")
        }
        let resumed = try BinaryRunner.run(["train", "--config", try config(), "--set", "checkpoint.run_name=damaged-resume",
                                            "--resume", state])
        #expect(resumed.status != 0 && resumed.standardError.contains(
            "flipped-state/embeddings-rank0.h5: 'embeddings/table0/optimizer_second' does not match its checksum"), "\(resumed.standardError)")
        let fine = try BinaryRunner.run(["evaluate", "--checkpoint", intact])
        #expect(fine.status == 0, "\(fine.standardError)")
    }

    /// Cuts a file to half its size.
    static func truncate(_ path: String) throws {
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: UInt64(size / 2))
        try handle.close()
    }

    /// Flips one bit in the middle of the raw values of a contiguous dataset, found from the
    /// storage offset and size `h5dump -p -H` reports.
    static func flipBit(in path: String, dataset: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["h5dump", "-p", "-H", "-d", dataset, path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let header = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        func number(after key: String) -> Int? {
            guard let range = header.range(of: key) else { return nil }
            return Int(header[range.upperBound...].prefix { $0 == " " || $0.isNumber }.trimmingCharacters(in: .whitespaces))
        }
        let offset = try #require(number(after: "OFFSET"), "no storage offset in: \(header)")
        let size = try #require(number(after: "SIZE"), "no storage size in: \(header)")
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        data[offset + size / 2] ^= 0x10
        try data.write(to: URL(fileURLWithPath: path))
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
