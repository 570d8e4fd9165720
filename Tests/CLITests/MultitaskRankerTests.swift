import Foundation
import Testing
import TestSupport

/// The multitask rankers (shared-bottom, MMoE, a two-level PLE) end to end through the binary,
/// on the planted synthetic source with a click and a correlated like: each task learns towards
/// its planted AUC; `evaluate` reports every task and the gates' mean weights (each gate's
/// weights sum to 1 over its experts; the same on 2 ranks; in metrics.jsonl too); `plan` and
/// `inspect` read the model; the ONNX export has
/// one output per task and scores as recsys-dist does.
@Suite(.serialized) struct MultitaskRankerTests {
    let scratch = ScratchFolder("recsys-rankers")
    var folder: String { scratch.path }

    func configPath(_ architecture: String) throws -> String {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = "\(folder)/\(architecture).yaml"
        try (MultiTaskTests.config
            .replacingOccurrences(of: "architecture: wide_deep", with: "architecture: \(architecture)")
            .replacingOccurrences(of: "  deep_mlp: [32, 2]", with: """
                  experts: 3
                  shared_experts: 1
                  task_experts: 1
                  levels: 2
                  expert_mlp: [32, 16]
                  tower_mlp: [8, 1]
                """)
            .replacingOccurrences(of: "checkpoint:\n  save_final: true", with: "checkpoint:\n  save_final: true\n  directory: \(folder)/checkpoints")
            + "\nevaluation:\n  task: like\n")
            .write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func json(_ output: BinaryRunner.Output) throws -> [String: Any] {
        let line = try #require(output.standardOutput.split(separator: "\n").last)
        return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    @Test(arguments: ["shared_bottom", "mmoe", "ple"])
    func trainsEvaluatesAndExports(architecture: String) throws {
        let config = try configPath(architecture)
        let runs = "\(folder)/runs-\(architecture)"
        let trained = try BinaryRunner.run(["train", "--config", config, "--format", "json", "--set", "run.directory=\(runs)"],
                                           workingDirectory: folder)
        try #require(trained.status == 0, "\(trained.standardError)")
        let result = try json(trained)
        for task in ["click", "like"] {
            let metrics = try MultiTaskTests.taskMetrics(result, task)
            let auc = try #require(metrics["auc"] as? Double), planted = try #require(metrics["planted_auc"] as? Double)
            #expect(auc > 0.62 && planted - auc < 0.08, "\(architecture), \(task): AUC \(auc), planted \(planted)")
        }

        // metrics.jsonl records the final evaluation's gate weights beside the tasks' metrics.
        let run = try #require(try FileManager.default.contentsOfDirectory(atPath: runs).first)
        let lines = try String(contentsOfFile: "\(runs)/\(run)/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        let evaluation = try #require(try lines.compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .last { $0["eval_auc_like"] != nil })
        let recordedGates = evaluation.keys.filter { $0.hasPrefix("gate/") }.sorted()
        #expect(recordedGates.isEmpty == (architecture == "shared_bottom"), "\(recordedGates)")
        if architecture == "mmoe" { #expect(recordedGates.first == "gate/click/expert0") }

        let checkpoint = "\(folder)/checkpoints/\(architecture)/latest", predictions = "\(folder)/\(architecture).tsv"
        let evaluated = try BinaryRunner.run(["evaluate", "--checkpoint", checkpoint, "--predictions", predictions, "--format", "json"])
        try #require(evaluated.status == 0, "\(evaluated.standardError)")
        let scores = try json(evaluated)
        for task in ["click", "like"] {
            #expect(try MultiTaskTests.taskMetrics(scores, task)["auc"] as? Double
                        == (try MultiTaskTests.taskMetrics(result, task))["auc"] as? Double)
        }
        // The gates: MMoE's one per task over the 3 experts; PLE's per task and level, and level 0's
        // shared gate over every expert; none in a shared-bottom model.
        let gates = scores["gates"] as? [String: [String: Double]] ?? [:]
        let expected: [String: Set<String>] = switch architecture {
        case "mmoe": ["click": ["expert0", "expert1", "expert2"], "like": ["expert0", "expert1", "expert2"]]
        case "ple": ["level0/click": ["click0", "shared0"], "level0/like": ["like0", "shared0"],
                     "level0/shared": ["click0", "like0", "shared0"], "level1/click": ["click0", "shared0"],
                     "level1/like": ["like0", "shared0"]]
        default: [:]
        }
        #expect(Set(gates.keys) == Set(expected.keys), "\(gates)")
        for (gate, weights) in gates {
            #expect(Set(weights.keys) == expected[gate], "\(gate): \(weights)")
            #expect(abs(weights.values.reduce(0, +) - 1) < 1e-4, "\(gate): \(weights)")
        }
        // Two ranks each score half of every batch: the same metrics, and the gate weights within
        // 1e-5 (their means are fp32 sums, and on an AVX2 CPU a sample's weights round their last
        // bit by where its row falls in OpenBLAS's tiles).
        let twoRanks = try MPIRunner.run(ranks: 2, ["evaluate", "--checkpoint", checkpoint, "--format", "json"])
        try #require(twoRanks.status == 0, "\(twoRanks.standardError)")
        let split = try json(twoRanks)
        #expect(split["auc"] as? Double == scores["auc"] as? Double)
        let splitGates = split["gates"] as? [String: [String: Double]] ?? [:]
        #expect(Set(splitGates.keys) == Set(gates.keys))
        for (gate, weights) in gates {
            for (expert, weight) in weights { #expect(abs((splitGates[gate]?[expert] ?? -1) - weight) < 1e-5, "\(gate) \(expert)") }
        }
        let text = try BinaryRunner.run(["evaluate", "--checkpoint", checkpoint])
        #expect(text.standardOutput.contains("gates (mean weight per expert):") == (architecture != "shared_bottom"), "\(text.standardOutput)")

        for command in [["plan", "--config", config], ["inspect", checkpoint]] {
            let output = try BinaryRunner.run(command, workingDirectory: folder)
            #expect(output.status == 0 && output.standardOutput.contains(architecture), "\(command): \(output.standardOutput)\(output.standardError)")
        }

        try MultiTaskTests.expectExportScoresAsRecsysDist(checkpoint: checkpoint, predictions: predictions,
                                                          model: "\(folder)/\(architecture).onnx")
    }

    /// `bench --model mmoe` times the preset on two synthetic tasks.
    @Test(arguments: ["shared_bottom", "mmoe", "ple"])
    func benchTimesThePreset(architecture: String) throws {
        let result = try BinaryRunner.run(["bench", "--model", architecture, "--rows", "1000", "--batch-size", "256",
                                           "--warmup", "1", "--steps", "3", "--format", "json"])
        try #require(result.status == 0, "\(result.standardError)")
        let json = try json(result)
        #expect(json["model"] as? String == architecture)
        #expect(((json["samples_per_second"] as? Double) ?? 0) > 0 && ((json["fraction_of_ceiling"] as? Double) ?? 0) > 0)
    }

    /// A loss weight naming no task is refused, naming the key and the tasks.
    @Test func aLossWeightOfNoTaskIsRefused() throws {
        let output = try BinaryRunner.run(["train", "--config", try configPath("mmoe"), "--set", "training.loss_weights={likes: 2}"],
                                          workingDirectory: folder)
        #expect(output.status != 0)
        #expect(output.standardError.contains("training.loss_weights.likes") && output.standardError.contains("click, like"),
                "\(output.standardError)")
    }
}
