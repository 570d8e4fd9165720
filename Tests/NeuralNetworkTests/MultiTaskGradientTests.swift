import Compute
import Foundation
import NeuralNetwork
import Testing
import TestSupport

/// Models with one output per task: the gradient of a two-task loss (binary cross-entropy on
/// the first output, squared error on the second, each averaged over the batch) against
/// central finite differences, through every dense parameter sampled and every table row. The
/// Wide&Deep case checks the part the tasks share (the wide part and DeepFM's term add into
/// every output, so they receive the sum of the outputs' gradients).
@Suite struct MultiTaskGradientTests {
    /// The 6-sample batch of `ModelGradientTests` with two labels per sample.
    static func makeBatch(denseCount: Int) -> Batch {
        let single = ModelGradientTests.makeBatch(denseCount: denseCount)
        let batch = Batch(capacity: single.capacity, denseFeatureCount: denseCount, tableCount: single.tableCount, idsPerSample: 3,
                          taskCount: 2)
        batch.dense.view.copy(from: single.dense.toArray())
        // Task 0: a click; task 1: a rating-like value.
        batch.labels.view.copy(from: [1, 0.5, 0, 2, 0, -1, 1, 1.5, 1, 0, 0, 3])
        for t in 0..<single.tableCount {
            for k in 0...single.size { batch.sparse[t].offsets[k] = single.sparse[t].offsets[k] }
            for k in 0..<single.sparse[t].idCount(samples: single.size) { batch.sparse[t].ids[k] = single.sparse[t].ids[k] }
        }
        batch.size = single.size
        return batch
    }

    /// The mean BCE of output 0 plus the mean squared error of output 1, and its gradient.
    static func loss(outputs: [Float], labels: [Float], rows: Int) -> (loss: Double, gradient: [Float]) {
        var loss = 0.0, gradient = [Float](repeating: 0, count: outputs.count)
        for b in 0..<rows {
            let x = Double(outputs[2 * b]), y = Double(labels[2 * b])
            loss += (max(x, 0) - x * y + log1p(exp(-abs(x)))) / Double(rows)
            gradient[2 * b] = Float((1 / (1 + exp(-x)) - y) / Double(rows))
            let difference = Double(outputs[2 * b + 1] - labels[2 * b + 1])
            loss += difference * difference / Double(rows)
            gradient[2 * b + 1] = Float(2 * difference / Double(rows))
        }
        return (loss, gradient)
    }

    func checkModel(_ model: RecommendationModel, batch: Batch) throws {
        #expect(model.outputCount == 2)
        let labels = Array(batch.labels.toArray().prefix(2 * batch.size))
        func loss() -> Double {
            Self.loss(outputs: try! model.forward(batch).toArray(), labels: labels, rows: batch.size).loss
        }
        let outputs = try model.forward(batch).toArray()
        #expect(outputs.count == 2 * batch.size)
        model.logitGradient.copy(from: Self.loss(outputs: outputs, labels: labels, rows: batch.size).gradient)
        try ModelGradientTests.expectGradients(of: model, loss: loss, sampledDenseIndices: 40, absolute: 3e-4)
    }

    @Test(arguments: TestBackends.names, [false, true])
    func wideDeepGradients(backendName: String, factorizationMachine: Bool) throws {
        let architecture = WideDeepArchitecture(denseFeatureCount: 4, tableRowCounts: [5, 5, 5], embeddingDimension: 3,
                                                deepWidths: [7, 5, 2], factorizationMachine: factorizationMachine)
        let model = try WideDeep(architecture, batchCapacity: 6, seed: 42, backend: TestBackends.make(backendName))
        var random = TestRandom(seed: 4)
        for table in model.wide.embeddings.localTables { random.fill(table.weights.whole, scale: 0.3) }
        random.fill(model.wide.dense.weight, scale: 0.3)
        try checkModel(model, batch: Self.makeBatch(denseCount: 4))
    }

    @Test(arguments: TestBackends.names)
    func dlrmGradients(backendName: String) throws {
        let architecture = DLRMArchitecture(denseFeatureCount: 4, tableRowCounts: [5, 5, 5], embeddingDimension: 3,
                                            bottomWidths: [8, 3], topWidths: [6, 2])
        let model = try DLRM(architecture, batchCapacity: 6, seed: 42, backend: TestBackends.make(backendName))
        try checkModel(model, batch: Self.makeBatch(denseCount: 4))
    }

    /// Shared-bottom (one level of one shared expert), MMoE (one level of three shared experts)
    /// and a two-level PLE (one shared and two own experts per task, a shared gate between the
    /// levels): every expert, gate and tower.
    @Test(arguments: TestBackends.names, ["shared_bottom", "mmoe", "ple"])
    func multitaskRankerGradients(backendName: String, kind: String) throws {
        let levels: [ExpertLevelShape] = switch kind {
        case "shared_bottom": [ExpertLevelShape(sharedExperts: 1, taskExperts: 0)]
        case "mmoe": [ExpertLevelShape(sharedExperts: 3, taskExperts: 0)]
        default: [ExpertLevelShape(sharedExperts: 1, taskExperts: 2), ExpertLevelShape(sharedExperts: 1, taskExperts: 2)]
        }
        let architecture = MultitaskArchitecture(denseFeatureCount: 4, tableRowCounts: [5, 5, 5], embeddingDimension: 3, taskCount: 2,
                                                 levels: levels, expertWidths: [8, 5], towerWidths: [4, 1])
        let model = try MultitaskRanker(architecture, batchCapacity: 6, seed: 42, backend: TestBackends.make(backendName))
        #expect(model.gateWeights(rows: 1).count == (kind == "shared_bottom" ? 0 : kind == "mmoe" ? 2 : 5))
        try checkModel(model, batch: Self.makeBatch(denseCount: 4))
    }
}
