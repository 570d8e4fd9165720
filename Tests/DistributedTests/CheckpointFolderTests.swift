import Checkpointing
import Foundation
import Testing
import TestSupport

/// The checkpoint folder through the command line (issue 10, items 7 to 9): one writer at a
/// time, unusable folders found at start, a full disk leaves the previous checkpoint.
@Suite(.serialized) struct CheckpointFolderTests {
    let scratch = ScratchFolder("recsys-folder")
    var folder: String { scratch.path }

    func config(checkpoints: String? = nil) throws -> String {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = folder + "/c.yaml"
        try (MultiRankTrainingTests.config + "\nrun:\n  record: false\n")
            .replacingOccurrences(of: "checkpoint:\n  save_final: false",
                                  with: "checkpoint:\n  directory: \(checkpoints ?? folder + "/runs")\n  run_name: r")
            .write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Whether this process may mount a tmpfs (tried once, on a folder of its own).
    static let canMountTmpfs: Bool = {
        guard getuid() == 0 else { return false }
        let probe = ScratchFolder.path("recsys-mount-probe")
        guard (try? FileManager.default.createDirectory(atPath: probe, withIntermediateDirectories: true)) != nil,
              let mounted = try? BinaryRunner.run(executable: "/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", probe]),
              mounted.status == 0 else { return false }
        _ = try? BinaryRunner.run(executable: "/bin/umount", [probe])
        try? FileManager.default.removeItem(atPath: probe)
        return true
    }()

    @Test func aSecondWriterIsRefusedWithTheHoldersHostAndPid() throws {
        let lock = try CheckpointFolderLock(folder: "\(folder)/runs/r")
        let output = try BinaryRunner.run(["train", "--config", try config()])
        #expect(output.status != 0)
        #expect(output.standardError.contains("\(folder)/runs/r: checkpoint folder in use by another run "
                                              + "(host \(ProcessInfo.processInfo.hostName), pid \(getpid()))"), "\(output.standardError)")
        #expect(!output.standardOutput.contains("step "), "refused before training")
        withExtendedLifetime(lock) {}
    }

    @Test func unusableFoldersAreFoundAtStartInOneLine() throws {
        let file = folder + "/plain-file"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try #require(FileManager.default.createFile(atPath: file, contents: Data()))
        let checkpoints = try BinaryRunner.run(["train", "--config", try config(checkpoints: "\(file)/checkpoints")])
        #expect(checkpoints.status != 0)
        #expect(checkpoints.standardError == "error: \(file)/checkpoints: Not a directory\n", "\(checkpoints.standardError)")
        #expect(!checkpoints.standardOutput.contains("step "))
        let runs = try BinaryRunner.run(["train", "--config", try config(), "--set", "run.record=true", "--set", "run.directory=\(file)/runs"])
        #expect(runs.status != 0)
        #expect(runs.standardError.hasPrefix("error: \(file)/runs") && runs.standardError.hasSuffix(": Not a directory\n")
                && runs.standardError.split(separator: "\n").count == 1, "\(runs.standardError)")
        #expect(!runs.standardOutput.contains("step "))
    }

    /// A tmpfs of `size` mounted at `path` (made first), for tests of a full disk.
    func mountTmpfs(_ path: String, size: String) throws -> String {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let mounted = try BinaryRunner.run(executable: "/bin/mount", ["-t", "tmpfs", "-o", "size=\(size)", "tmpfs", path])
        try #require(mounted.status == 0, "mount failed: \(mounted.standardError)")
        return path
    }

    func unmount(_ path: String) { _ = try? BinaryRunner.run(executable: "/bin/umount", [path]) }

    /// A 4 MB tmpfs holds the step-2 checkpoint (2.1 MB, 2.5 MB with its margin for HDF5) but not the
    /// one at step 4: the run stops saying so, no partial folder is left, `latest` still loads.
    /// Needs to mount a tmpfs (root, with the right to mount); skipped otherwise.
    @Test(.enabled(if: Self.canMountTmpfs, "cannot mount a small tmpfs here (not root, or no mount rights): skipped"),
          arguments: [1, 2])
    func aFullDiskLeavesThePreviousCheckpoint(ranks: Int) throws {
        let mount = try mountTmpfs(folder + "/small-\(ranks)", size: "4m")
        defer { unmount(mount) }
        let arguments = ["train", "--config", try config(checkpoints: mount), "--set", "model.table_rows=[50, 20000, 200, 80, 1000]",
                         "--set", "checkpoint.every_steps=2", "--set", "training.max_steps=4"]
        let output = ranks == 1 ? try BinaryRunner.run(arguments) : try MPIRunner.run(ranks: ranks, arguments)
        #expect(output.status != 0)
        #expect(output.standardError.contains("\(mount)/r: no space left for the checkpoint"), "\(output.standardError)")
        let left = try FileManager.default.contentsOfDirectory(atPath: "\(mount)/r").sorted()
        #expect(left == [".lock", "latest", "step-2"], "\(left)")
        let evaluated = try BinaryRunner.run(["evaluate", "--checkpoint", "\(mount)/r/latest"])
        #expect(evaluated.status == 0, "\(evaluated.standardError)")
    }

    /// A run folder that fills up stops training with one line naming it and the reason, not
    /// Foundation's error dump (issue 29, item 35).
    @Test(.enabled(if: Self.canMountTmpfs, "cannot mount a small tmpfs here (not root, or no mount rights): skipped"))
    func aFullRunFolderIsOneLineWithItsPath() throws {
        let mount = try mountTmpfs(folder + "/tiny-runs", size: "24k")
        defer { unmount(mount) }
        let output = try BinaryRunner.run(["train", "--config", try config(), "--set", "run.record=true", "--set", "run.directory=\(mount)",
                                           "--set", "training.epochs=20", "--set", "checkpoint.save_final=false"])
        #expect(output.status == 1)
        let lines = output.standardError.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].hasPrefix("error: \(mount)/r-") && lines[0].hasSuffix(": No space left on device"),
                "\(output.standardError)")
    }

    /// A dynamic table's map (keys, clocks, counts, sketch: 24 bytes a row) counts toward the
    /// space a checkpoint needs (issue 29, item 24): 100,000 dynamic rows with Adagrad take 36
    /// bytes a row without it, 60 with it (3.6 MB against 6.0 MB), on a 4 MB tmpfs. Refused before
    /// writing, never a write failing midway (HDF5 then crashed: status 11, SIGSEGV, measured).
    @Test(.enabled(if: Self.canMountTmpfs, "cannot mount a small tmpfs here (not root, or no mount rights): skipped"))
    func dynamicTablesCountTowardTheSpaceNeeded() throws {
        let mount = try mountTmpfs(folder + "/small-dynamic", size: "4m")
        defer { unmount(mount) }
        let output = try BinaryRunner.run(["train", "--config", try config(checkpoints: mount),
                                           "--set", "model.table_rows=[50, dynamic, 200, 80, 1000]",
                                           "--set", "model.dynamic_tables.capacity=100000", "--set", "training.optimizer.algorithm=adagrad",
                                           "--set", "checkpoint.every_steps=2", "--set", "training.max_steps=4"])
        #expect(output.status == 1, "an error, not a crash: \(output.status)")
        #expect(output.standardError.contains("\(mount)/r: no space left for the checkpoint"), "\(output.standardError)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(mount)/r") == [".lock"], "no partial folder left")
    }
}
