import Checkpointing
import Configuration
import DataPipeline
import Datasets
import Distributed
import NeuralNetwork
import Planning

/// Scores a saved model: rebuilds it from the config stored in the checkpoint (sharded over
/// however many ranks run this), loads its weights and evaluates the held-out data across ranks.
public enum CheckpointEvaluation {
    public struct Report: Sendable {
        public var step: Int
        public var evaluation: HeldOutMetrics
        public var plantedEvaluation: HeldOutMetrics?
    }

    /// - Parameters:
    ///   - overrides: `key=value` changes to the stored config (e.g. another eval size).
    ///   - dataPath: a file to score whole, in the config's data format (default: its held-out split).
    ///   - predictionsPath: where rank 0 writes every scored sample (`PredictionFile`), when given.
    public static func run(checkpoint: String, overrides: [String], dataPath: String? = nil,
                           predictionsPath: String? = nil, communicator: Communicator = LocalCommunicator()) throws -> Report {
        // `latest` is followed once, and every rank must have found the same step.
        let directory = try TrainingCheckpoint.resolve(checkpoint)
        let hold = try CheckpointReadHold(directory)  // never pruned while read
        defer { withExtendedLifetime(hold) {} }
        let state = try TrainingCheckpoint.state(in: directory)
        let steps = try communicator.allReduceMax([Double(state.step), -Double(state.step)])
        guard steps[0] == -steps[1] else {
            throw CheckpointError.mixedCheckpoints(path: checkpoint, detail: "the ranks found steps \(Int(-steps[1]))...\(Int(steps[0])): "
                                                   + "it was repointed while they read it; try again")
        }
        let configuration = try ConfigurationLoader.parse(state.configuration, source: "\(directory)/dense.h5 (config)",
                                                          overrides: overrides)
        try MemoryCheck.require(configuration, communicator: communicator)
        let capacity = BatchLoader.slice(of: configuration.evaluation.batchSize, rank: 0, worldSize: communicator.size).count
        let model = try ModelFactory.makeModel(configuration, batchCapacity: capacity, communicator: communicator)
        _ = try TrainingCheckpoint.load(into: model, denseOptimizer: nil, sparseOptimizer: nil, from: directory)
        if let settings = configuration.model.definition.retrieval {
            // A retriever ranks the catalogue for the held-out users, their training items excluded.
            guard dataPath == nil && predictionsPath == nil else {
                throw ConfigurationError("\(checkpoint): a retriever is scored on its own held-out split by Recall@K "
                                         + "(--data and --predictions score a ranker's samples)")
            }
            let splits = try DataSplits.load(configuration)
            let evaluation = try RetrievalEvaluation(train: splits.train, heldOut: splits.evaluation, settings: settings,
                                                     cutoffs: configuration.evaluation.topK)
            return Report(step: state.step, evaluation: try evaluation.evaluate(model, on: splits.evaluation,
                                                                                batchSize: configuration.evaluation.batchSize,
                                                                                communicator: communicator), plantedEvaluation: nil)
        }
        let data = try DataSplits.loadEvaluation(configuration, path: dataPath)
        let evaluation = try Evaluator.evaluate(model, on: data, batchSize: configuration.evaluation.batchSize,
                                                communicator: communicator,
                                                predictions: predictionsPath.map { ($0, FeatureNames(configuration)) })
        let planted = try data.plantedLogits.map { try HeldOutMetrics.compute(tasks: data.tasks, outputs: $0, labels: data.labels) }
        return Report(step: state.step, evaluation: evaluation, plantedEvaluation: planted)
    }
}
