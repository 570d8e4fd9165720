import Compute
import NeuralNetwork
import Testing
import TestSupport

/// Whole-model gradients (mean BCE over a batch) against central finite differences: every
/// dense parameter of the arena (or a spread sample of them) and every row of every table,
/// on a batch whose tables contain repeated ids and multi-hot bags, on every test backend.
@Suite struct ModelGradientTests {
    /// A batch of 6 samples, 3 tables of 5 rows, bags of 1-3 ids with repeats.
    static func makeBatch(denseCount: Int) -> Batch {
        let rows = 6
        let batch = Batch(capacity: rows, denseFeatureCount: denseCount, tableCount: 3, idsPerSample: 3)
        var random = TestRandom(seed: 99)
        random.fill(batch.dense.view)
        batch.labels.view.copy(from: [1, 0, 0, 1, 1, 0])
        let bags: [[[Int32]]] = [
            [[0], [0], [4], [2], [0], [1]],                 // one-hot, id 0 three times
            [[1, 1], [3], [1, 2, 3], [], [4, 4, 4], [0]],    // multi-hot, repeats within and across bags
            [[2], [2], [2], [2], [3], [2]],
        ]
        batch.setBags(bags)
        return batch
    }

    func checkModel(_ model: RecommendationModel, batch: Batch, sampledDenseIndices: Int) throws {
        func loss() -> Double {
            let logits = try! model.forward(batch)
            return model.backend.binaryCrossEntropy(logits: logits, labels: model.inputs.labelSlice, logitGradient: nil,
                                                    count: batch.size, gradientScale: 0) / Double(batch.size)
        }
        let logits = try model.forward(batch)
        _ = BinaryCrossEntropyLoss().lossAndGradient(outputs: logits, labels: model.inputs.labelSlice, gradient: model.logitGradient,
                                                     count: batch.size, gradientScale: 1 / Float(batch.size))
        try Self.expectGradients(of: model, loss: loss, sampledDenseIndices: sampledDenseIndices, absolute: 2e-4)
    }

    /// Backward from the dL/d(output) the model holds, then every sampled dense parameter and
    /// every table row against central differences of `loss`. Step 1e-3 for dense parameters:
    /// the loss (~0.7) is exact to ~1e-7 in Float, so the quotient to ~1e-4, inside the
    /// tolerance; a larger step can cross a ReLU kink.
    static func expectGradients(of model: RecommendationModel, loss: () -> Double, sampledDenseIndices: Int,
                                absolute: Double) throws {
        model.arena.zeroGradients()
        try model.backward()
        let denseGradients = model.arena.gradients.toArray().map(Double.init)
        let tableGradients = model.embeddingTables.map { $0.gradient.rows() }

        let indices = model.arena.entries.flatMap { entry in
            FiniteDifference.sampleIndices(count: entry.count, limit: sampledDenseIndices, seed: UInt64(entry.offset))
                .map { entry.offset + $0 }
        }
        let numeric = FiniteDifference.gradient(of: loss, parameters: model.arena.values.whole, indices: indices,
                                                step: 1e-3)
        let bad = FiniteDifference.mismatches(analytic: indices.map { denseGradients[$0] }, numeric: numeric,
                                              absolute: absolute)
        let names = bad.prefix(5).map { mismatch in
            model.arena.entries.last(where: { $0.offset <= indices[mismatch.index] })?.name ?? "?"
        }
        #expect(bad.isEmpty, "dense: \(names) \(bad.prefix(5))")

        for (t, table) in model.embeddingTables.enumerated() {
            let numeric = FiniteDifference.gradient(of: loss, parameters: table.weights.whole,
                                                    indices: Array(0..<table.weights.count), step: 3e-3)
            var analytic = [Double](repeating: 0, count: table.weights.count)
            for row in tableGradients[t] {
                for k in 0..<table.dimension { analytic[row.id * table.dimension + k] = Double(row.gradient[k]) }
            }
            let bad = FiniteDifference.mismatches(analytic: analytic, numeric: numeric, absolute: absolute)
            #expect(bad.isEmpty, "\(table.name): \(bad.prefix(5))")
        }
    }

    @Test(arguments: TestBackends.names)
    func dlrmGradients(backendName: String) throws {
        let architecture = DLRMArchitecture(denseFeatureCount: 4, tableRowCounts: [5, 5, 5], embeddingDimension: 3,
                                            bottomWidths: [8, 3], topWidths: [6, 1])
        let model = try DLRM(architecture, batchCapacity: 6, seed: 42, backend: TestBackends.make(backendName))
        try checkModel(model, batch: Self.makeBatch(denseCount: 4), sampledDenseIndices: 40)
    }

    /// With no dense features DLRM has no bottom MLP: the interaction is over the tables alone
    /// (issue 10, item 16).
    @Test func dlrmWithoutDenseFeaturesGradients() throws {
        let architecture = DLRMArchitecture(denseFeatureCount: 0, tableRowCounts: [5, 5, 5], embeddingDimension: 3,
                                            bottomWidths: [], topWidths: [6, 1])
        let model = try DLRM(architecture, batchCapacity: 6, seed: 42)
        #expect(model.bottomMLP == nil && model.interaction.outputWidth == 3, "three pairwise dots, no pass-through")
        try checkModel(model, batch: Self.makeBatch(denseCount: 0), sampledDenseIndices: 20)
    }

    /// DCNv2: two cross layers of rank 2 over x0 of width 12 (bottom output and three tables).
    @Test(arguments: TestBackends.names)
    func dcnv2Gradients(backendName: String) throws {
        let architecture = DCNv2Architecture(denseFeatureCount: 4, tableRowCounts: [5, 5, 5], embeddingDimension: 3,
                                             bottomWidths: [8, 3], crossLayers: 2, crossRank: 2, topWidths: [6, 1])
        let model = try DCNv2(architecture, batchCapacity: 6, seed: 42, backend: TestBackends.make(backendName))
        #expect(model.cross.width == 12)
        // b starts at zero; give it values so its products are exercised.
        var random = TestRandom(seed: 6)
        for entry in model.arena.entries where entry.name.hasSuffix("up/bias") { random.fill(model.arena.value(of: entry), scale: 0.3) }
        try checkModel(model, batch: Self.makeBatch(denseCount: 4), sampledDenseIndices: 40)
    }

    @Test func dcnv2WithoutDenseFeaturesGradients() throws {
        let architecture = DCNv2Architecture(denseFeatureCount: 0, tableRowCounts: [5, 5, 5], embeddingDimension: 3,
                                             bottomWidths: [], crossLayers: 1, crossRank: 3, topWidths: [4, 1])
        let model = try DCNv2(architecture, batchCapacity: 6, seed: 42)
        #expect(model.bottomMLP == nil && model.cross.width == 9)
        try checkModel(model, batch: Self.makeBatch(denseCount: 0), sampledDenseIndices: 40)
    }

    @Test(arguments: TestBackends.names, [false, true])
    func wideDeepGradients(backendName: String, factorizationMachine: Bool) throws {
        let architecture = WideDeepArchitecture(denseFeatureCount: 4, tableRowCounts: [5, 5, 5], embeddingDimension: 3,
                                                deepWidths: [7, 5, 1], factorizationMachine: factorizationMachine)
        let model = try WideDeep(architecture, batchCapacity: 6, seed: 42, backend: TestBackends.make(backendName))
        // The wide part starts at zero; give it values so its products are exercised.
        var random = TestRandom(seed: 4)
        for table in model.wide.embeddings.localTables { random.fill(table.weights.whole, scale: 0.3) }
        random.fill(model.wide.dense.weight, scale: 0.3)
        try checkModel(model, batch: Self.makeBatch(denseCount: 4), sampledDenseIndices: 40)
    }

    /// BST with table 1 as the sequence: its bags are empty, repeat ids, and (with 2 positions)
    /// run longer than the sequence; two blocks of two heads over a width of 4.
    @Test(arguments: TestBackends.names, [2, 4])
    func bstGradients(backendName: String, sequenceLength: Int) throws {
        let architecture = BSTArchitecture(denseFeatureCount: 4, tableRowCounts: [5, 5, 5], embeddingDimension: 4,
                                           sequenceTable: 1, sequenceLength: sequenceLength, heads: 2, blocks: 2,
                                           feedForwardWidth: 5, deepWidths: [7, 5, 1])
        let model = try BST(architecture, batchCapacity: 6, seed: 42, backend: TestBackends.make(backendName))
        try checkModel(model, batch: Self.makeBatch(denseCount: 4), sampledDenseIndices: 40)
    }
}
