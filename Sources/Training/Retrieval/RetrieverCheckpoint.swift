import Checkpointing
import Configuration
import DataPipeline
import Datasets
import Distributed
import Foundation
import NeuralNetwork
import Planning
import VectorSearch

/// A trained retriever read back from a checkpoint, with the data it was trained on: what
/// `evaluate`, `export`, `index` and `retrieve` start from.
public struct RetrieverCheckpoint {
    public let configuration: TrainingConfiguration
    public let step: Int
    public let model: RecommendationModel
    public let splits: DataSplits
    /// The item catalogue, each user's training items and the popularity floor.
    public let catalogue: RetrievalEvaluation

    /// Loads `checkpoint` (`latest` followed once) on every rank of `communicator`; throws when
    /// its model is not a retriever.
    public static func load(_ checkpoint: String, overrides: [String] = [], communicator: Communicator = LocalCommunicator()) throws
        -> RetrieverCheckpoint {
        let directory = try TrainingCheckpoint.resolve(checkpoint)
        let hold = try CheckpointReadHold(directory)  // never pruned while read
        defer { withExtendedLifetime(hold) {} }
        let state = try TrainingCheckpoint.state(in: directory)
        let configuration = try ConfigurationLoader.parseStored(state.configuration, source: "\(directory)/dense.h5 (config)", overrides: overrides)
        return try load(directory: directory, configuration: configuration, step: state.step, communicator: communicator)
    }

    /// The retriever of the checkpoint folder `directory` (resolved, held by the caller), whose
    /// stored config is `configuration`: its model with the weights, its data and catalogue.
    public static func load(directory: String, configuration: TrainingConfiguration, step: Int, communicator: Communicator) throws
        -> RetrieverCheckpoint {
        guard let settings = configuration.model.definition.retrieval else {
            throw ConfigurationError("\(directory): a \(configuration.model.architecture) model ranks samples; index and retrieve "
                                     + "take a retriever (model.architecture: two_tower)")
        }
        try MemoryCheck.require(configuration, communicator: communicator)
        let capacity = BatchLoader.slice(of: configuration.evaluation.batchSize, rank: 0, worldSize: communicator.size).count
        let model = try ModelFactory.makeModel(configuration, batchCapacity: capacity, communicator: communicator)
        _ = try TrainingCheckpoint.load(into: model, denseOptimizer: nil, sparseOptimizer: nil, from: directory)
        let splits = try DataSplits.load(configuration)
        let catalogue = try RetrievalEvaluation(train: splits.train, heldOut: splits.evaluation,
                                                catalogueFile: try DataSplits.loadCatalogue(configuration), settings: settings,
                                                cutoffs: configuration.evaluation.topK)
        return RetrieverCheckpoint(configuration: configuration, step: step, model: model, splits: splits, catalogue: catalogue)
    }

    /// Every catalogue item's vector (on one process: all of them), with its id.
    public func itemVectors(communicator: Communicator = LocalCommunicator()) throws -> (items: [Int32], vectors: [Float]) {
        try catalogue.itemVectors(model, batchSize: configuration.evaluation.batchSize, communicator: communicator)
    }

    /// The vectors of the users of `source`'s samples (every rank gets all), with each sample's
    /// user and item ids.
    public func userVectors(of source: SampleSource, communicator: Communicator = LocalCommunicator()) throws
        -> (vectors: [Float], users: [Int32], targets: [Int32]) {
        try catalogue.userVectors(model, on: source, batchSize: configuration.evaluation.batchSize, communicator: communicator)
    }

    /// The width of the vectors.
    public var vectorWidth: Int { model.outputCount / 2 }
}

/// An index written by `index`: the FAISS index at `path` and its items' ids and vectors at
/// `path.items.h5` (the index labels items by their position there).
public struct ItemIndex {
    public let index: VectorIndex
    public let items: [Int64]

    public static func itemsPath(_ path: String) -> String { path + ".items.h5" }

    public static func read(_ path: String) throws -> ItemIndex {
        let index = try VectorIndex.read(path: path)
        let items = try ItemVectorFile.read(path: itemsPath(path))
        guard items.items.count == index.count, items.width == index.dimension else {
            throw ConfigurationError("\(path): the index holds \(index.count) vectors of \(index.dimension), \(itemsPath(path)) "
                                     + "\(items.items.count) of \(items.width): not written together")
        }
        return ItemIndex(index: index, items: items.items)
    }

    /// Each query's best `k` items by the index, best first, leaving out `excluded(q)`: the
    /// index is asked for as many more as the most any query excludes.
    public func search(_ queries: [Float], k: Int, excluded: (Int) -> [Int32]) throws -> [[(score: Float, item: Int32)]] {
        let count = queries.count / index.dimension
        let extra = (0..<count).map { excluded($0).count }.max() ?? 0, asked = min(k + extra, index.count)
        let found = try index.search(queries, k: asked)
        return (0..<count).map { q in
            let left = Set(excluded(q))
            var list: [(score: Float, item: Int32)] = []
            for j in 0..<asked where list.count < k {
                let label = found.labels[q * asked + j]
                guard label >= 0 else { break }
                let item = Int32(items[Int(label)])
                if !left.contains(item) { list.append((found.scores[q * asked + j], item)) }
            }
            return list
        }
    }
}
