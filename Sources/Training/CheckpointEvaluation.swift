import Checkpointing
import DataPipeline
import NeuralNetwork

/// Scores a saved model: rebuilds it from the config stored in the checkpoint, loads its
/// weights and evaluates it on that config's held-out split.
public enum CheckpointEvaluation {
    public struct Report: Sendable {
        public var step: Int
        public var evaluation: BinaryClassificationMetrics
        public var plantedEvaluation: BinaryClassificationMetrics?
    }

    /// - Parameter overrides: `key=value` changes to the stored config (e.g. another eval size).
    public static func run(checkpoint directory: String, overrides: [String]) throws -> Report {
        let metadata = try ModelCheckpoint.metadata(in: directory)
        let configuration = try ConfigurationLoader.parse(metadata.configuration, source: "\(directory)/dense.h5 (config)",
                                                          overrides: overrides)
        let model = try ModelFactory.makeModel(configuration, batchCapacity: configuration.evaluation.batchSize)
        try ModelCheckpoint.load(into: model, from: directory)
        let data = try DataSplits.load(configuration).evaluation
        let evaluation = try Evaluator.evaluate(model, on: data, batchSize: configuration.evaluation.batchSize)
        let planted = try data.plantedLogits.map { try BinaryClassificationMetrics.compute(logits: $0, labels: data.labels) }
        return Report(step: metadata.step, evaluation: evaluation, plantedEvaluation: planted)
    }
}
