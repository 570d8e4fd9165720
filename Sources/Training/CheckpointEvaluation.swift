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
        /// A retriever's vector index against its exact top-K (with `indexPath`).
        public var indexComparison: RetrievalEvaluation.IndexComparison?
    }

    /// - Parameters:
    ///   - overrides: `key=value` changes to the stored config (e.g. another eval size).
    ///   - dataPath: a file to score whole, in the config's data format (default: its held-out split).
    ///   - predictionsPath: where rank 0 writes every scored sample (`PredictionFile`), when given.
    ///   - indexPath: a retriever's vector index (`recsys-dist index`) to measure against the exact
    ///     top-K, searched `searchBreadth` wide (IVF lists probed, HNSW's efSearch) when given.
    public static func run(checkpoint: String, overrides: [String], dataPath: String? = nil,
                           predictionsPath: String? = nil, indexPath: String? = nil, searchBreadth: Int? = nil,
                           communicator: Communicator = LocalCommunicator()) throws -> Report {
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
        let configuration = try ConfigurationLoader.parseStored(state.configuration, source: "\(directory)/dense.h5 (config)",
                                                          overrides: overrides)
        if configuration.model.definition.retrieval != nil {
            // A retriever ranks the catalogue for the held-out users, their training items excluded.
            guard dataPath == nil && predictionsPath == nil else {
                throw ConfigurationError("\(checkpoint): a retriever is scored on its own held-out split by Recall@K "
                                         + "(--data and --predictions score a ranker's samples)")
            }
            let retriever = try RetrieverCheckpoint.load(directory: directory, configuration: configuration, step: state.step,
                                                         communicator: communicator)
            let batchSize = configuration.evaluation.batchSize, heldOut = retriever.splits.evaluation
            let evaluation = try retriever.catalogue.evaluate(retriever.model, on: heldOut, batchSize: batchSize, communicator: communicator)
            let comparison = try indexPath.map { path in
                let index = try ItemIndex.read(path)
                if let searchBreadth { try index.index.setSearchBreadth(searchBreadth) }
                return try retriever.catalogue.compare(index, model: retriever.model, on: heldOut, batchSize: batchSize,
                                                       communicator: communicator)
            }
            return Report(step: state.step, evaluation: evaluation, plantedEvaluation: nil, indexComparison: comparison)
        }
        guard indexPath == nil else {
            throw ConfigurationError("\(checkpoint): --index measures a retriever's vector index; this is a \(configuration.model.architecture) model")
        }
        try MemoryCheck.require(configuration, communicator: communicator)
        let capacity = BatchLoader.slice(of: configuration.evaluation.batchSize, rank: 0, worldSize: communicator.size).count
        let model = try ModelFactory.makeModel(configuration, batchCapacity: capacity, communicator: communicator)
        _ = try TrainingCheckpoint.load(into: model, denseOptimizer: nil, sparseOptimizer: nil, from: directory)
        let data = try DataSplits.loadEvaluation(configuration, path: dataPath)
        let evaluation = try Evaluator.evaluate(model, on: data, batchSize: configuration.evaluation.batchSize,
                                                communicator: communicator,
                                                predictions: predictionsPath.map { ($0, FeatureNames(configuration)) })
        let planted = try data.plantedLogits.map { try HeldOutMetrics.compute(tasks: data.tasks, outputs: $0, labels: data.labels) }
        return Report(step: state.step, evaluation: evaluation, plantedEvaluation: planted)
    }
}
