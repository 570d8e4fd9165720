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

    /// Called from another folder with a config path relative to it, the launcher reads that
    /// config and writes its outputs there (issue 10, item 23).
    @Test func localLauncherRunsInTheCallersFolder() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("recsys-launch-\(UUID().uuidString)").path
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
    }
}
