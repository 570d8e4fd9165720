import Foundation
import Testing
import TestSupport

/// Training runs of the built binary on `MultiRankTrainingTests.config`, on 1 rank or N under
/// mpirun, their checkpoints in a folder of their own: what the checkpoint and backend suites run.
struct CheckpointRuns {
    let scratch = ScratchFolder("recsys-resume")
    var folder: String { scratch.path }

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
        /// The held-out AUC (a retriever's Recall@10).
        let auc: Double
        let standardError: String
    }

    func train(ranks: Int, _ arguments: [String], environment: [String: String] = [:]) throws -> Run {
        let all = ["train", "--config", try config(), "--format", "json"] + arguments
        let output = ranks == 1 ? try BinaryRunner.run(all, environment: environment)
                                : try MPIRunner.run(ranks: ranks, all, environment: environment)
        try #require(output.status == 0, "\(output.standardError)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(output.standardOutput.split(separator: "\n").last!.utf8)) as? [String: Any])
        return Run(losses: json["losses"] as! [Double], auc: json["auc"] as? Double ?? json["recall@10"] as! Double,
                   standardError: output.standardError)
    }
}
