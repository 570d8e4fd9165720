import Foundation
import Testing
import TestSupport

/// `export` writes ONNX models that onnxruntime (installed by launch/test.sh into .venv-test)
/// scores as recsys-dist does: every architecture, on the quickstart's planted data with
/// multi-hot bags and on the Criteo sample; the largest difference from `evaluate`'s
/// probabilities at most 1e-5 and the AUC equal to 4 decimals.
@Suite(.serialized) struct OnnxExportTests {
    static let root = TestPaths.packageRoot
    let scratch = ScratchFolder("recsys-onnx")
    var folder: String { scratch.path }

    struct Scores {
        let samples: Int
        let maxAbsoluteDifference: Double
        let onnxAUC: Double
        let recsysAUC: Double
    }

    /// Trains `config` (with `overrides`), writes the held-out predictions and the export, and
    /// scores the export with onnxruntime.
    func exportAndScore(config: String, _ overrides: [String], name: String, exportArguments: [String] = [],
                        dense: Int = 13, tables: Int = 26) throws -> Scores {
        let python = Self.root + "/.venv-test/bin/python"
        try #require(FileManager.default.fileExists(atPath: python), "\(python) is missing: launch/test.sh installs onnxruntime there")
        let checkpoints = "\(folder)/\(name)"
        let trained = try BinaryRunner.run(["train", "--config", "\(Self.root)/configs/\(config)", "--set", "checkpoint.directory=\(checkpoints)",
                                            "--set", "run.record=false"] + overrides.flatMap { ["--set", $0] },
                                           workingDirectory: Self.root)
        try #require(trained.status == 0, "\(name): \(trained.standardError)")
        let checkpoint = try #require(try FileManager.default.contentsOfDirectory(atPath: checkpoints).first.map { "\(checkpoints)/\($0)/latest" })
        let predictions = "\(folder)/\(name).tsv", model = "\(folder)/\(name).onnx"
        let evaluated = try BinaryRunner.run(["evaluate", "--checkpoint", checkpoint, "--predictions", predictions])
        try #require(evaluated.status == 0, "\(name): \(evaluated.standardError)")
        let exported = try BinaryRunner.run(["export", "--checkpoint", checkpoint, "--output", model] + exportArguments)
        try #require(exported.status == 0, "\(name): \(exported.standardError)")
        let modelPath = exportArguments.contains("--triton") ? try tritonModel(model) : model
        let scored = try BinaryRunner.run(executable: python, ["\(Self.root)/launch/score-onnx.py", modelPath, predictions,
                                                               "--dense", String(dense), "--tables", String(tables)])
        try #require(scored.status == 0, "\(name): \(scored.standardError)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(scored.standardOutput.utf8)) as? [String: Any])
        return Scores(samples: json["samples"] as! Int, maxAbsoluteDifference: json["max_abs_difference"] as! Double,
                      onnxAUC: json["auc_onnx"] as! Double, recsysAUC: json["auc_recsys_dist"] as! Double)
    }

    /// The model file of a Triton repository with one model.
    func tritonModel(_ repository: String) throws -> String {
        let name = try #require(try FileManager.default.contentsOfDirectory(atPath: repository).first)
        return "\(repository)/\(name)/1/model.onnx"
    }

    func expectSameScores(_ scores: Scores, _ what: String) {
        #expect(scores.maxAbsoluteDifference <= 1e-5, "\(what): probabilities differ by \(scores.maxAbsoluteDifference)")
        #expect(String(format: "%.4f", scores.onnxAUC) == String(format: "%.4f", scores.recsysAUC),
                "\(what): AUC \(scores.onnxAUC) from onnxruntime, \(scores.recsysAUC) from recsys-dist")
    }

    /// The quickstart, trained briefly, with multi-hot bags of up to 3 ids (the export's ids input
    /// is then padded with -1).
    static let quickstart = ["training.max_steps=40", "data.synthetic.train_samples=50000", "data.ids_per_sample=3",
                             "model.deep_mlp=[64, 1]", "model.cross_layers=2", "model.cross_rank=8"]

    /// On the quickstart's whole held-out set (100,000 samples).
    /// BST takes table 25's bags as its sequences: of 4 positions (bags of up to 3 ids padded on
    /// the left), and of 2 (the longer bags keep their last 2 ids).
    @Test(arguments: ["dlrm", "wide_deep", "dcnv2", "deepfm", "bst", "bst:2"])
    func quickstartExportScoresAsRecsysDist(architecture: String) throws {
        let model = architecture.split(separator: ":")
        let sequence = model.count == 2 ? ["model.sequence_length=\(model[1])"] : ["model.sequence_length=4"]
        let scores = try exportAndScore(config: "quickstart.yaml", Self.quickstart + ["model.architecture=\(model[0])"] + sequence,
                                        name: "quickstart-\(architecture)")
        #expect(scores.samples == 100_000)
        expectSameScores(scores, architecture)
    }

    /// Without dense features the model has no `dense` input (and DLRM no bottom MLP); bags
    /// mean-pooled; tables in an external data file.
    @Test(arguments: ["dlrm", "wide_deep"])
    func withoutDenseFeaturesAndWithExternalTables(architecture: String) throws {
        let scores = try exportAndScore(config: "quickstart.yaml",
                                        Self.quickstart + ["model.architecture=\(architecture)", "data.dense_features=0", "model.pooling=mean",
                                                           "data.synthetic.eval_samples=5000"],
                                        name: "no-dense-\(architecture)", exportArguments: ["--external-data"], dense: 0)
        expectSameScores(scores, "\(architecture) without dense features")
        #expect(FileManager.default.fileExists(atPath: "\(folder)/no-dense-\(architecture).onnx.data"))
    }

    @Test func tritonRepositoryLayout() throws {
        let scores = try exportAndScore(config: "quickstart.yaml", Self.quickstart + ["data.synthetic.eval_samples=5000"], name: "triton",
                                        exportArguments: ["--triton", "--name", "ctr"])
        expectSameScores(scores, "triton")
        let configuration = try String(contentsOfFile: "\(folder)/triton.onnx/ctr/config.pbtxt", encoding: .utf8)
        #expect(configuration.contains("name: \"ctr\"") && configuration.contains("platform: \"onnxruntime_onnx\""))
        #expect(configuration.contains("name: \"ids\" data_type: TYPE_INT64 dims: [ -1, 26, -1 ]"))
        #expect(configuration.contains("name: \"probability\" data_type: TYPE_FP32 dims: [ -1, 1 ]"))
    }

    @Test(arguments: ["dlrm", "wide-deep", "dcnv2", "deepfm"])
    func criteoSampleExportScoresAsRecsysDist(model: String) throws {
        let data = "\(Self.root)/../shared/data/criteo_kaggle/train_head10k.txt"
        guard FileManager.default.fileExists(atPath: data) else {
            print("skipped the Criteo sample export: data absent (\(data))")
            return
        }
        let scores = try exportAndScore(config: "\(model)-criteo-sample.yaml", ["checkpoint.save_final=true"], name: "criteo-\(model)",
                                        exportArguments: ["--external-data"])
        #expect(scores.samples == 2000)
        expectSameScores(scores, "Criteo sample, \(model)")
    }
}
