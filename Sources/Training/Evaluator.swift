import DataPipeline
import Datasets
import Distributed
import NeuralNetwork

/// Scores a dataset with a model, in order, and computes held-out metrics per task. With N
/// ranks each scores its slice of every batch and rank 0 gathers the outputs in dataset order.
public enum Evaluator {
    /// The outputs of every sample, (count, tasks), on rank 0 (empty elsewhere).
    public static func logits(of model: RecommendationModel, on dataset: SampleSource, batchSize: Int,
                              communicator: Communicator = LocalCommunicator()) throws -> [Float] {
        try score(model, on: dataset, batchSize: batchSize, communicator: communicator, gateTotals: nil)
    }

    /// `logits(of:…)`, adding each batch's gate weights into `gateTotals` when given.
    private static func score(_ model: RecommendationModel, on dataset: SampleSource, batchSize: Int, communicator: Communicator,
                              gateTotals: GateWeightTotals?) throws -> [Float] {
        let worldSize = communicator.size, outputs = model.outputCount
        let globalBatch = min(batchSize, model.batchCapacity * worldSize)
        let loader = BatchLoader(dataset: dataset, batchSize: globalBatch, shuffleSeed: nil, dropLast: false,
                                 rank: communicator.rank, worldSize: worldSize)
        // Dynamic tables only find the rows ids already have: unseen ids get the default row.
        for collection in model.embeddingCollections { collection.setLearnsKeys(false) }
        defer { for collection in model.embeddingCollections { collection.setLearnsKeys(true) } }
        var result = [Float](repeating: 0, count: communicator.isRoot ? dataset.count * outputs : 0)
        var position = 0
        while try loader.next() {
            let logits = try model.forward(loader.batch)
            gateTotals?.add(rows: loader.batch.size)
            let counts = (0..<worldSize).map {
                Int32(BatchLoader.slice(of: loader.globalBatchSize, rank: $0, worldSize: worldSize).count * outputs)
            }
            try result.withUnsafeMutableBufferPointer { all in
                try communicator.gatherV(send: logits, receive: communicator.isRoot ? all.baseAddress! + position : nil,
                                         receiveCounts: counts, receiveOffsets: offsets(of: counts), root: 0)
            }
            position += loader.globalBatchSize * outputs
        }
        return result
    }

    /// Held-out metrics of every task, computed on rank 0 and shared with every rank, with the
    /// mean weights of a gated model's gates; rank 0 also writes the scored samples to
    /// `predictions.path` when given (`PredictionFile`).
    public static func evaluate(_ model: RecommendationModel, on dataset: SampleSource, batchSize: Int,
                                communicator: Communicator = LocalCommunicator(),
                                predictions: (path: String, names: FeatureNames)? = nil) throws -> HeldOutMetrics {
        let gateTotals = (model as? GatedModel).map(GateWeightTotals.init)
        let scores = try score(model, on: dataset, batchSize: batchSize, communicator: communicator, gateTotals: gateTotals)
        if communicator.isRoot, let predictions {
            try PredictionFile.write(path: predictions.path, samples: dataset, logits: scores, names: predictions.names)
        }
        // Every rank knows the tasks; rank 0 fills in the values, which the sum shares.
        var metrics = HeldOutMetrics(tasks: dataset.tasks.map { task in
            TaskMetrics(task: task, values: task.metrics.map { ($0.name, 0) })
        }, count: dataset.count)
        if communicator.isRoot { metrics = try HeldOutMetrics.compute(tasks: dataset.tasks, outputs: scores, labels: dataset.labels) }
        metrics = metrics.replacing(try communicator.allReduceSum(metrics.flattened))
        if let gateTotals {
            metrics.gates = gateTotals.usage(totals: try communicator.allReduceSum(gateTotals.flattened), count: dataset.count,
                                             tasks: dataset.tasks.map(\.name))
        }
        return metrics
    }
}
