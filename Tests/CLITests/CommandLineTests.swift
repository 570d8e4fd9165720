import Compute
import Configuration
import Foundation
import Planning
import Testing
import TestSupport
import Training

/// End-to-end tests of the built binary: what a user types, what they read back.
@Suite(.serialized) struct CommandLineTests {
    static let smallConfig = """
        model:
          architecture: dlrm
          embedding_dimension: 4
          table_count: 3
          table_rows: 20
          bottom_mlp: [8, 4]
          top_mlp: [8, 1]
        data:
          synthetic:
            train_samples: 4000
            eval_samples: 1000
            crosses: [[0, 1]]
        checkpoint:
          save_final: false
        training:
          batch_size: 100
          log_every: 10
          optimizer:
            algorithm: adagrad
            learning_rate: 0.05
        """

    func writeConfig(_ text: String) throws -> String {
        let path = ScratchFolder.path("recsys-cli", suffix: ".yaml")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// A child that ignores SIGTERM still ends at its timeout: a hung binary fails its test
    /// instead of hanging the suite.
    @Test func aTimeoutEndsEvenAChildIgnoringSIGTERM() throws {
        let started = Date()
        let output = try BinaryRunner.run(executable: "/bin/sh", ["-c", "trap '' TERM; exec sleep 60"], timeout: 2)
        #expect(output.status != 0 && Date().timeIntervalSince(started) < 20, "\(Date().timeIntervalSince(started)) s")
    }

    /// The overview names every model the binary trains (issue 29, item 18).
    @Test func helpNamesEveryModel() throws {
        let help = try BinaryRunner.run(["--help"])
        for model in ["DLRM", "Wide&Deep", "DCNv2", "DeepFM", "BST"] { #expect(help.standardOutput.contains(model), "\(model)") }
    }

    @Test func trainPrintsProgressAndEndsWithJSONMetrics() throws {
        let path = try writeConfig(Self.smallConfig)
        let result = try BinaryRunner.run(["train", "--config", path, "--format", "json"])
        #expect(result.status == 0, "\(result.standardError)")
        let lastLine = try #require(result.standardOutput.split(separator: "\n").last)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(lastLine.utf8)) as? [String: Any])
        for key in ["auc", "logloss", "samples", "samples_per_second", "planted_auc"] {
            #expect(json[key] is NSNumber, "missing \(key) in \(lastLine)")
        }
        #expect((json["samples"] as? Int) == 4000)
        #expect(((json["auc"] as? Double) ?? 0) > 0.6)
        #expect(result.standardError.contains("step 10/40"), "progress goes to stderr in JSON mode")
    }

    @Test func trainTextOutputShowsHeldOutAndPlantedAUC() throws {
        let path = try writeConfig(Self.smallConfig)
        let result = try BinaryRunner.run(["train", "--config", path, "--set", "training.epochs=2"])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.standardOutput.contains("step 80/80"))
        #expect(result.standardOutput.contains("held-out: AUC 0."))
        #expect(result.standardOutput.contains("planted model: AUC 0."))
    }

    @Test func badConfigFailsWithOneLineNamingTheKey() throws {
        let path = try writeConfig(Self.smallConfig)
        let unknown = try BinaryRunner.run(["train", "--config", path, "--set", "training.learning_rate=0.1"])
        #expect(unknown.status != 0)
        #expect(unknown.standardError.contains("unknown key 'training.learning_rate'"), "\(unknown.standardError)")
        let range = try BinaryRunner.run(["train", "--config", path, "--set", "training.threads=0"])
        #expect(range.status != 0)
        #expect(range.standardError.contains("key 'training.threads': must be in 1...256, got 0"))
        let missing = try BinaryRunner.run(["train", "--config", "/nonexistent/config.yaml"])
        #expect(missing.status != 0)
        #expect(missing.standardError.contains("/nonexistent/config.yaml: no such config file"), "\(missing.standardError)")
    }

    @Test func benchPrintsThroughputAndCeiling() throws {
        let result = try BinaryRunner.run(["bench", "--model", "wide-deep", "--rows", "1000", "--batch-size", "256",
                                           "--warmup", "1", "--steps", "3", "--format", "json"])
        #expect(result.status == 0, "\(result.standardError)")
        let lastLine = try #require(result.standardOutput.split(separator: "\n").last)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(lastLine.utf8)) as? [String: Any])
        #expect(((json["samples_per_second"] as? Double) ?? 0) > 0)
        #expect(((json["fraction_of_ceiling"] as? Double) ?? 0) > 0)
    }

    /// `bench --profile` accounts for the step operation by operation: every GEMM of a step,
    /// forward and backward, is in its table (DLRM's FLOPs are the MLP FLOPs `bench` reports;
    /// DCNv2's cross layers add theirs), and the operations take most of the step. On a CPU
    /// without bf16 instructions `--precision bf16` says so in a warning and times fp32 products.
    @Test func benchProfilesEveryOperation() throws {
        for (model, asked) in [("dlrm", "fp32"), ("dcnv2", "bf16")] {
            let result = try BinaryRunner.run(["bench", "--model", model, "--rows", "1000", "--batch-size", "256", "--precision", asked,
                                               "--warmup", "1", "--steps", "3", "--profile", "--format", "json"])
            #expect(result.status == 0, "\(result.standardError)")
            let lastLine = try #require(result.standardOutput.split(separator: "\n").last)
            let json = try #require(try JSONSerialization.jsonObject(with: Data(lastLine.utf8)) as? [String: Any])
            let precision = try #require(json["precision"] as? String)
            let fellBack = asked == "bf16" && CPUBackend.bfloat16Implementation == nil
            #expect(precision == (fellBack ? "fp32" : asked))
            #expect(result.standardError.contains("warning: --precision bf16: this CPU has no bf16 instructions") == fellBack,
                    "\(result.standardError)")
            let operations = try #require(json["operations"] as? [[String: Any]])
            let gemms = operations.filter { ($0["name"] as? String)?.hasPrefix("gemm ") == true }
            let flops = gemms.reduce(0.0) { $0 + ($1["gflops"] as! Double) * ($1["ms_per_step"] as! Double) * 1e6 }
            let expected = (json["mlp_flops_per_sample"] as! Double) * 256
            if model == "dlrm" {
                #expect(abs(flops - expected) < 1e-3 * expected, "\(model): the GEMMs' \(flops) FLOPs a step, the MLPs' \(expected)")
            } else {
                #expect(flops > expected, "\(model): the GEMMs' \(flops) FLOPs a step, the MLPs' \(expected) and the crosses'")
            }
            let names = Set(operations.compactMap { $0["name"] as? String })
            #expect(names.isSuperset(of: ["addBias", "embeddingBags", "binaryCrossEntropy"]), "\(names)")
            // In bf16 a linear layer's ReLU backward, bias gradient and rounding are one pass, and
            // so are its bias, ReLU and the rounding of its output for the next layer.
            #expect(names.isSuperset(of: precision == "bf16" ? ["linearBackwardEpilogue", "addBias and pack"] : ["reluBackward"]),
                    "\(names)")
            // In bf16 each operand is rounded once (`pack`) before the products that read it.
            #expect(names.contains("pack") == (precision == "bf16"), "\(names)")
            let timed = operations.filter { ($0["name"] as? String)?.hasSuffix("(within gemm)") == false }
                .reduce(0.0) { $0 + ($1["ms_per_step"] as! Double) }
            #expect(timed > 0.5 * (json["step_ms_median"] as! Double), "the operations are most of the step: \(timed) ms")
        }
    }

    /// `bench --config` times the config's own model: its architecture, its sizes (the
    /// parameters of the model the config builds), its batch; `--model` is refused beside it.
    @Test func benchTimesAConfigsModel() throws {
        let config = TestPaths.packageRoot + "/configs/dcnv2-synthetic.yaml"
        let result = try BinaryRunner.run(["bench", "--config", config, "--set", "training.batch_size=96",
                                           "--set", "model.table_rows=500", "--warmup", "1", "--steps", "2", "--format", "json"])
        #expect(result.status == 0, "\(result.standardError)")
        let lastLine = try #require(result.standardOutput.split(separator: "\n").last)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(lastLine.utf8)) as? [String: Any])
        #expect(json["model"] as? String == "dcnv2")
        #expect(json["batch_size"] as? Int == 96 && json["global_batch_size"] as? Int == 96)
        #expect(((json["samples_per_second"] as? Double) ?? 0) > 0)
        let model = try ModelFactory.makeModel(try ConfigurationLoader.load(path: config, overrides: ["model.table_rows=500"]),
                                               batchCapacity: 1)
        #expect(json["parameter_count"] as? Int == model.parameterCount)

        let both = try BinaryRunner.run(["bench", "--config", config, "--model", "dlrm"])
        #expect(both.status != 0 && both.standardError.contains("--model and --config"), "\(both.standardError)")
    }
}

extension CommandLineTests {
    /// `data.multi_hot_sizes` makes one-hot data multi-hot for training and for `evaluate`: the
    /// scored samples carry bags of the configured sizes; a list of the wrong length is refused.
    @Test func multiHotSizesReachTrainingAndEvaluation() throws {
        let folder = ScratchFolder.path("recsys-cli-multihot")
        let path = try writeConfig(Self.smallConfig)
        let train = try BinaryRunner.run(["train", "--config", path, "--set", "data.multi_hot_sizes=[3, 1, 5]",
                                          "--set", "checkpoint.directory=\(folder)", "--set", "checkpoint.run_name=m",
                                          "--set", "checkpoint.save_final=true"])
        #expect(train.status == 0, "\(train.standardError)")
        let predictions = "\(folder)/scored.tsv"
        let evaluate = try BinaryRunner.run(["evaluate", "--checkpoint", "\(folder)/m/latest", "--predictions", predictions])
        #expect(evaluate.status == 0, "\(evaluate.standardError)")
        var lines = try String(contentsOfFile: predictions, encoding: .utf8).split(separator: "\n")
        // The header names the columns (issue 29, item 18): synthetic data's dense<i> and table<i>.
        #expect(lines.removeFirst().hasPrefix("label\tprobability\tdense0\t"))
        #expect(lines.count == 1000)
        for line in lines.prefix(50) {
            let bags = line.split(separator: "\t", omittingEmptySubsequences: false).suffix(3).map { $0.split(separator: ",").count }
            #expect(bags == [3, 1, 5], "\(line)")
        }
        let wrong = try BinaryRunner.run(["train", "--config", path, "--set", "data.multi_hot_sizes=[3, 1]"])
        #expect(wrong.status != 0 && wrong.standardError.contains("data.multi_hot_sizes"), "\(wrong.standardError)")
    }

    @Test func evaluateScoresTheSavedModelAsTrainDid() throws {
        let folder = ScratchFolder.path("recsys-cli-ckpt")
        let path = try writeConfig(Self.smallConfig)
        let train = try BinaryRunner.run(["train", "--config", path, "--format", "json", "--set", "checkpoint.directory=\(folder)",
                                          "--set", "checkpoint.run_name=small", "--set", "checkpoint.save_final=true"])
        #expect(train.status == 0, "\(train.standardError)")
        #expect(train.standardError.contains("saved \(folder)/small/step-40"))
        let trained = try JSONSerialization.jsonObject(with: Data(train.standardOutput.split(separator: "\n").last!.utf8)) as! [String: Any]

        let evaluate = try BinaryRunner.run(["evaluate", "--checkpoint", "\(folder)/small/latest", "--format", "json"])
        #expect(evaluate.status == 0, "\(evaluate.standardError)")
        let evaluated = try JSONSerialization.jsonObject(with: Data(evaluate.standardOutput.split(separator: "\n").last!.utf8)) as! [String: Any]
        #expect(evaluated["auc"] as? Double == trained["auc"] as? Double)
        #expect(evaluated["logloss"] as? Double == trained["logloss"] as? Double)
        #expect(evaluated["step"] as? Int == 40)

        let missing = try BinaryRunner.run(["evaluate", "--checkpoint", "\(folder)/small/step-7"])
        #expect(missing.status != 0)
        #expect(missing.standardError.contains("\(folder)/small/step-7: no such checkpoint folder"), "\(missing.standardError)")

        // A truncated file (a crash mid-copy) is one clear line, not a crash or a hang.
        let dense = URL(fileURLWithPath: "\(folder)/small/step-40/dense.h5")
        let bytes = try Data(contentsOf: dense)
        try bytes.prefix(bytes.count / 3).write(to: dense)
        let truncated = try BinaryRunner.run(["evaluate", "--checkpoint", "\(folder)/small/step-40"])
        #expect(truncated.status == 1)
        #expect(truncated.standardError == "error: \(folder)/small/step-40/dense.h5: cannot open as HDF5 (missing, unreadable or truncated)\n")
    }
}

extension CommandLineTests {
    @Test func planPrintsPlacementMemoryAndTraffic() throws {
        let path = try writeConfig(Self.smallConfig)
        let result = try BinaryRunner.run(["plan", "--config", path, "--ranks", "2", "--set", "distributed.sharding=row_wise"])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.standardOutput.contains("row-wise over all ranks"))
        #expect(result.standardOutput.contains("all-reduce per step"))
        let rankLines = result.standardOutput.split(separator: "\n").filter { $0.contains("MiB") && ($0.hasPrefix("0 ") || $0.hasPrefix("1 ")) }
        #expect(rankLines.count == 2, "one line per rank: \(result.standardOutput)")
    }
}
