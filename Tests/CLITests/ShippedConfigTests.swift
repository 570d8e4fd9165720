import Configuration
import Foundation
import Testing
import TestSupport
import Training

/// Every config in configs/ trains for a few steps (with its samples cut down so the test is
/// quick); configs whose data files are absent are skipped with a message.
@Suite(.serialized) struct ShippedConfigTests {
    static let root = TestPaths.packageRoot

    static let configs: [String] = {
        ((try? FileManager.default.contentsOfDirectory(atPath: root + "/configs")) ?? []).filter { $0.hasSuffix(".yaml") }.sorted()
    }()

    @Test(arguments: configs)
    func configTrainsAFewSteps(name: String) throws {
        let path = "\(Self.root)/configs/\(name)"
        let configuration = try ConfigurationLoader.load(path: path)
        // The data files the config reads, relative to the package (as the README runs them).
        let files = configuration.data.path + configuration.data.evalPath + (configuration.data.delimited?.joins ?? []).map(\.path)
        let missing = files.filter { file in
            !FileManager.default.fileExists(atPath: file.hasPrefix("/") ? file : "\(Self.root)/\(file)")
        }
        guard missing.isEmpty else {
            print("skipped \(name): data absent (\(missing.first!))")
            return
        }
        let output = try BinaryRunner.run(["train", "--config", path, "--format", "json", "--set", "training.max_steps=3",
                                           "--set", "data.synthetic.train_samples=8192", "--set", "data.synthetic.eval_samples=1024",
                                           "--set", "run.record=false", "--set", "checkpoint.save_final=false",
                                           "--set", "evaluation.every_steps=0"],
                                          workingDirectory: Self.root)
        #expect(output.status == 0, "\(name): \(output.standardError)")
        let json = try JSONSerialization.jsonObject(with: Data((output.standardOutput.split(separator: "\n").last ?? "").utf8)) as? [String: Any]
        #expect(json?["steps"] as? Int == 3, "\(name)")
    }
}
