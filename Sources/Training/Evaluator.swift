import DataPipeline
import NeuralNetwork

/// Scores a dataset with a model, in order, and computes held-out metrics.
public enum Evaluator {
    public static func logits(of model: RecommendationModel, on dataset: InMemoryDataset, batchSize: Int) -> [Float] {
        let loader = BatchLoader(dataset: dataset, batchSize: min(batchSize, model.batchCapacity),
                                 shuffleSeed: nil, dropLast: false)
        var result: [Float] = []
        result.reserveCapacity(dataset.count)
        while loader.next() {
            let logits = model.forward(loader.batch)
            result.append(contentsOf: UnsafeBufferPointer(start: logits, count: loader.batch.size))
        }
        return result
    }

    public static func evaluate(_ model: RecommendationModel, on dataset: InMemoryDataset,
                                batchSize: Int) throws -> BinaryClassificationMetrics {
        try BinaryClassificationMetrics.compute(logits: logits(of: model, on: dataset, batchSize: batchSize),
                                                labels: dataset.labels)
    }
}
