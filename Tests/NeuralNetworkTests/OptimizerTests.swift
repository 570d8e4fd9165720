import Compute
import Foundation
import NeuralNetwork
import Testing
import TestSupport

/// Optimizer updates against values computed by hand from the update rules, on the
/// separate-memory backend (every value crosses by an explicit copy).
@Suite struct OptimizerTests {
    func dense(_ algorithm: OptimizerAlgorithm, values: [Float], gradients: [[Float]], lr: Float) -> [Float] {
        let backend = SeparateMemoryBackend()
        let p = backend.makeFloats(values.count), g = backend.makeFloats(values.count)
        p.copy(from: values)
        let optimizer = DenseOptimizer(settings: OptimizerSettings(algorithm: algorithm), backend: backend,
                                       parameterCount: values.count)
        for step in gradients {
            g.copy(from: step)
            optimizer.step(values: p.whole, gradients: g.whole, learningRate: lr)
        }
        return p.toArray()
    }

    @Test func sgd() {
        let result = dense(.sgd, values: [1, -2], gradients: [[0.5, -1], [1, 1]], lr: 0.1)
        // 1 - 0.1*0.5 - 0.1*1 = 0.85; -2 + 0.1 - 0.1 = -2
        #expect(abs(result[0] - 0.85) < 1e-6 && abs(result[1] + 2) < 1e-6)
    }

    @Test func adagradDense() {
        let result = dense(.adagrad, values: [1], gradients: [[2], [1]], lr: 0.5)
        // step 1: s = 4, p = 1 - 0.5 * 2 / 2 = 0.5; step 2: s = 5, p = 0.5 - 0.5 * 1 / sqrt(5)
        let expected = 0.5 - 0.5 / 5.0.squareRoot()
        #expect(abs(Double(result[0]) - expected) < 1e-6)
    }

    @Test func adamDense() {
        let result = dense(.adam, values: [1], gradients: [[2], [-1]], lr: 0.1)
        // PyTorch's Adam: m, v moving averages; p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
        var p = 1.0, m = 0.0, v = 0.0
        for (t, g) in [2.0, -1.0].enumerated() {
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g * g
            let step = Double(t + 1)
            p -= 0.1 / (1 - pow(0.9, step)) * m / ((v / (1 - pow(0.999, step))).squareRoot() + 1e-8)
        }
        #expect(abs(Double(result[0]) - p) < 1e-6)
    }

    /// A table of 4 rows x 2; the batch touches rows 1 and 3 (row 3 twice).
    func sparseStep(_ algorithm: OptimizerAlgorithm, steps: Int) -> EmbeddingTable {
        let backend = SeparateMemoryBackend()
        let table = EmbeddingTable(backend: backend, name: "t", rowCount: 4, dimension: 2, batchCapacity: 3)
        table.weights.copy(from: [1, 1, 1, 1, 1, 1, 1, 1])
        let ids = backend.makeIndices(3), offsets = backend.makeIndices(4)
        ids.copy(from: [3, 1, 3])
        offsets.copy(from: [0, 1, 2, 3])
        let bags = EmbeddingBags(ids: ids.whole, offsets: offsets.whole, rows: 3, idCount: 3)
        let outputGradient = backend.makeFloats(6)
        outputGradient.copy(from: [1, 2, 3, 4, 0.5, 0.5])
        let optimizer = SparseOptimizer(settings: OptimizerSettings(algorithm: algorithm), tables: [table])
        for _ in 0..<steps {
            table.backward(bags, outputGradient: outputGradient.whole, gradientStride: 2)
            optimizer.step(tables: [table], learningRate: 0.1)
        }
        return table
    }

    @Test func sparseSGDTouchesOnlyRowsInTheBatch() {
        let w = sparseStep(.sgd, steps: 1).weights.toArray()
        // row 1: g = (3, 4); row 3: g = (1 + 0.5, 2 + 0.5)
        let expected: [Float] = [1, 1, 1 - 0.3, 1 - 0.4, 1, 1, 1 - 0.15, 1 - 0.25]
        for (actual, value) in zip(w, expected) { #expect(abs(actual - value) < 1e-6) }
    }

    @Test func rowWiseAdagrad() {
        let table = sparseStep(.adagrad, steps: 2)
        let w = table.weights.toArray().map(Double.init)
        // Row 3: g = (1.5, 2.5), mean square 4.25 per step; sums 4.25 then 8.5.
        let row3 = [1.5, 2.5].map { g in 1 - 0.1 * g / 4.25.squareRoot() - 0.1 * g / 8.5.squareRoot() }
        // Row 1: g = (3, 4), mean square 12.5; sums 12.5 then 25.
        let row1 = [3.0, 4.0].map { g in 1 - 0.1 * g / 12.5.squareRoot() - 0.1 * g / 25.0.squareRoot() }
        #expect(w[0] == 1 && w[1] == 1 && w[4] == 1 && w[5] == 1, "untouched rows do not change")
        for (actual, expected) in zip([w[2], w[3], w[6], w[7]], row1 + row3) { #expect(abs(actual - expected) < 1e-6) }
    }

    @Test func lazyAdamLeavesUntouchedRowsAndTheirMoments() {
        let table = sparseStep(.adam, steps: 1)
        let w = table.weights.toArray()
        // First Adam step moves every touched coordinate by lr * sign(g) (m/sqrt(v) = 1 after correction).
        #expect(w[0] == 1 && w[1] == 1 && w[4] == 1 && w[5] == 1)
        for index in [2, 3, 6, 7] { #expect(abs(w[index] - 0.9) < 1e-5) }
    }

    @Test func learningRateSchedule() {
        let warm = LearningRateSchedule(baseRate: 1, warmupSteps: 4)
        #expect([0, 1, 3, 4, 100].map { warm.rate(atStep: $0) } == [0.2, 0.4, 0.8, 1, 1])
        let linear = LearningRateSchedule(baseRate: 1, decay: .linear, decayStartStep: 10, decaySteps: 10, finalScale: 0.1)
        #expect(linear.rate(atStep: 9) == 1)
        #expect(abs(linear.rate(atStep: 15) - 0.55) < 1e-6)
        #expect(abs(linear.rate(atStep: 20) - 0.1) < 1e-6 && abs(linear.rate(atStep: 50) - 0.1) < 1e-6)
        let cosine = LearningRateSchedule(baseRate: 2, decay: .cosine, decayStartStep: 0, decaySteps: 4)
        #expect(abs(cosine.rate(atStep: 2) - 1) < 1e-6)
        let polynomial = LearningRateSchedule(baseRate: 1, decay: .polynomial, decayStartStep: 0, decaySteps: 10)
        #expect(abs(polynomial.rate(atStep: 5) - 0.25) < 1e-6)
    }
}

@Suite struct FusedEmbeddingUpdateTests {
    /// The fused SGD backward must land every table where collect-then-update lands it.
    @Test(arguments: ["dlrm", "wide_deep"], TestBackends.names)
    func fusedSGDMatchesCollectedGradientsAndSparseSGD(architecture: String, backendName: String) throws {
        func makeModel() throws -> RecommendationModel {
            let backend = TestBackends.make(backendName)
            return architecture == "dlrm"
                ? try DLRM(DLRMArchitecture(denseFeatureCount: 4, tableRowCounts: [5, 5, 5], embeddingDimension: 3,
                                        bottomWidths: [8, 3], topWidths: [6, 1]), batchCapacity: 6, seed: 42, backend: backend)
                : try WideDeep(WideDeepArchitecture(denseFeatureCount: 4, tableRowCounts: [5, 5, 5], embeddingDimension: 3,
                                                deepWidths: [7, 1]), batchCapacity: 6, seed: 42, backend: backend)
        }
        let batch = ModelGradientTests.makeBatch(denseCount: 4)
        let fused = try makeModel(), collected = try makeModel()
        for model in [fused, collected] {
            let logits = try model.forward(batch)
            _ = BinaryCrossEntropyLoss().lossAndGradient(outputs: logits, labels: model.inputs.labelSlice, gradient: model.logitGradient,
                                                         count: batch.size, gradientScale: 1 / Float(batch.size))
            model.arena.zeroGradients()
        }
        try fused.backward(embeddingMode: .fusedSGD(learningRate: 0.5))
        try collected.backward()
        SparseOptimizer(settings: OptimizerSettings(algorithm: .sgd), tables: collected.embeddingTables)
            .step(tables: collected.embeddingTables, learningRate: 0.5)
        for (a, b) in zip(fused.embeddingTables, collected.embeddingTables) {
            for (x, y) in zip(a.weights.toArray(), b.weights.toArray()) { #expect(abs(x - y) < 1e-6, "\(a.name)") }
            #expect(try a.weights.toArray() != makeModel().embeddingTables.first { $0.name == a.name }!.weights.toArray()
                    || a.name.hasPrefix("wide"), "\(a.name) was updated")
        }
        #expect(fused.arena.gradients.toArray() == collected.arena.gradients.toArray())
    }
}
