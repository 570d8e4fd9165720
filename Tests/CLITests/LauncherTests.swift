import Foundation
import Testing
import TestSupport

/// launch/mpirun-local.sh, as a user types it: bound ranks when they fit on the cores,
/// oversubscribed when they do not, root flags added by itself.
@Suite(.serialized) struct LauncherTests {
    static let root = TestPaths.packageRoot

    @Test(arguments: [(2, 1), (3, 1)])
    func localLauncherTrains(ranks: Int, threads: Int) throws {
        let output = try BinaryRunner.run(
            executable: "/usr/bin/env",
            ["bash", "\(Self.root)/launch/mpirun-local.sh", "\(ranks)", "\(threads)", "\(Self.root)/configs/quickstart.yaml",
             "--set", "training.max_steps=5", "--set", "data.synthetic.train_samples=20000", "--set", "data.synthetic.eval_samples=2000",
             "--set", "checkpoint.save_final=false", "--set", "run.record=false", "--format", "json"],
            environment: ["RECSYS_DIST_BIN": BinaryRunner.binaryPath])
        #expect(output.status == 0, "\(output.standardError)")
        let json = try JSONSerialization.jsonObject(with: Data((output.standardOutput.split(separator: "\n").last ?? "").utf8)) as? [String: Any]
        #expect(json?["world_size"] as? Int == ranks)
        #expect(json?["replicas_identical"] as? Bool == true)
    }

    /// Ctrl-C to the launcher stops the ranks after a checkpoint, however long it takes to write
    /// (issue 29, item 25): mpirun itself never sees the SIGINT (OpenMPI would end the ranks a
    /// second or two later, part-way through this 1 GB checkpoint); the ranks get SIGUSR1.
    @Test func ctrlCToTheLauncherSavesTheCheckpoint() throws {
        let folder = ScratchFolder.path("recsys-stop")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try """
            model: {architecture: dlrm, embedding_dimension: 16, table_count: 2, table_rows: [2500000, 2500000], bottom_mlp: [16, 16], top_mlp: [16, 1]}
            data: {synthetic: {train_samples: 2000000, eval_samples: 1000}}
            training: {batch_size: 256, log_every: 100, optimizer: {algorithm: adam, learning_rate: 0.01}}
            checkpoint: {directory: ck, run_name: r, every_steps: 200}
            run: {record: false}
            """.write(toFile: "\(folder)/c.yaml", atomically: true, encoding: .utf8)
        let latest = "\(folder)/ck/r/latest"
        let stopped = try BinaryRunner.run(
            // Foundation's Process starts children with these signals blocked or ignored, which a shell
            // cannot undo (its trap would never run): restored first, as a terminal's shell has them.
            executable: "/usr/bin/env",
            ["python3", "-c", "import os, signal, sys\nfor s in (signal.SIGINT, signal.SIGTERM): signal.signal(s, signal.SIG_DFL)\n"
             + "signal.pthread_sigmask(signal.SIG_SETMASK, set())\nos.execvp(sys.argv[1], sys.argv[1:])", "bash", "\(Self.root)/launch/mpirun-local.sh", "2", "1", "c.yaml"],
            environment: ["RECSYS_DIST_BIN": BinaryRunner.binaryPath], workingDirectory: folder,
            started: { launcher in
                DispatchQueue.global().async {
                    for _ in 0..<3000 where !FileManager.default.fileExists(atPath: latest) { usleep(20_000) }
                    usleep(500_000)
                    kill(launcher.processIdentifier, SIGINT)
                }
            })
        #expect(stopped.status != 0)
        let message = try #require(stopped.standardError.split(separator: "\n").first { $0.hasPrefix("stopped by SIGUSR1 after step ") },
                                   "\(stopped.standardError)")
        let step = try #require(Int(message.dropFirst("stopped by SIGUSR1 after step ".count).prefix { $0.isNumber }))
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: latest) == "step-\(step)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(folder)/ck/r").allSatisfy { !$0.hasSuffix(".partial") })
        let evaluated = try BinaryRunner.run(["evaluate", "--checkpoint", latest])
        #expect(evaluated.status == 0, "\(evaluated.standardError)")
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// Called from another folder with a config path relative to it, the launcher reads that
    /// config and writes its outputs there (issue 10, item 23).
    @Test func localLauncherRunsInTheCallersFolder() throws {
        let folder = ScratchFolder.path("recsys-launch")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "\(Self.root)/configs/quickstart.yaml", toPath: "\(folder)/q.yaml")
        let output = try BinaryRunner.run(
            executable: "/usr/bin/env",
            ["bash", "\(Self.root)/launch/mpirun-local.sh", "2", "1", "q.yaml", "--set", "training.max_steps=3",
             "--set", "data.synthetic.train_samples=20000", "--set", "data.synthetic.eval_samples=2000",
             "--set", "checkpoint.directory=ck", "--set", "run.record=false"],
            environment: ["RECSYS_DIST_BIN": BinaryRunner.binaryPath], workingDirectory: folder)
        #expect(output.status == 0, "\(output.standardError)")
        #expect(FileManager.default.fileExists(atPath: "\(folder)/ck/q/latest/dense.h5"), "outputs in the caller's folder")
        // A binary there is run as it is, and said so, never rebuilt (issue 29, item 3).
        #expect(output.standardError.contains("running \(BinaryRunner.binaryPath) as built")
                && !output.standardError.contains("building it"), "\(output.standardError)")
    }
}
