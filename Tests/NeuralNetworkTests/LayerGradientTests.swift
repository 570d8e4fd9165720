import Compute
import Foundation
import NeuralNetwork
import Testing
import TestSupport

/// Every layer's backward against central finite differences of L = sum(c * output) with fixed
/// random weights c. Tolerance: 1e-3 absolute + 1e-2 relative. The forward runs in Float, so a
/// loss of size ~1 is exact to ~1e-6 and the difference quotient with step 1e-2 to ~1e-4; the
/// rest of the budget covers the O(h^2) truncation error.
@Suite struct LayerGradientTests {
    @Test func mlpParameterAndInputGradients() {
        let arena = ParameterArena()
        let rows = 5, inputSize = 7
        let mlp = MLP(arena: arena, name: "mlp", inputSize: inputSize, widths: [6, 4, 3], reluOnLast: false,
                      batchCapacity: rows, needsInputGradient: true)
        arena.allocate()
        var random = TestRandom(seed: 11)
        var generator = SeededGenerator(seed: 3)
        mlp.initialize(using: &generator)
        let input = FloatBuffer(count: rows * inputSize)
        random.fill(input.view)
        let c = random.normals(rows * 3)

        func loss() -> Double {
            let out = mlp.forward(input: input.base, rows: rows)
            return (0..<c.count).reduce(0.0) { $0 + c[$1] * Double(out[$1]) }
        }
        _ = loss()
        for i in 0..<c.count { mlp.outputGradient[i] = Float(c[i]) }
        arena.zeroGradients()
        let inputGradient = mlp.backward(input: input.base, rows: rows)!
        let analyticInput = (0..<input.count).map { Double(inputGradient[$0]) }
        let analyticParameters = arena.gradients.toArray().map(Double.init)

        let numericInput = FiniteDifference.gradient(of: loss, parameters: input.view, indices: Array(0..<input.count))
        #expect(FiniteDifference.mismatches(analytic: analyticInput, numeric: numericInput).isEmpty)
        for entry in arena.entries {
            let indices = (entry.offset..<(entry.offset + entry.count)).map { $0 }
            let numeric = FiniteDifference.gradient(of: loss, parameters: arena.values.view, indices: indices)
            let analytic = indices.map { analyticParameters[$0] }
            let bad = FiniteDifference.mismatches(analytic: analytic, numeric: numeric)
            #expect(bad.isEmpty, "\(entry.name): \(bad.prefix(3))")
        }
    }

    @Test func embeddingBagGradientWithRepeatedIDs() {
        let table = EmbeddingTable(name: "t", rowCount: 10, dimension: 4, batchCapacity: 4)
        table.initializeUniform(seed: 5, tableIndex: 0)
        // Bags: [3, 3, 7] (id repeated within a bag), [7] (repeated across samples), [] (empty), [1, 9].
        let feature = SparseFeature(batchCapacity: 4, idsPerSample: 2)
        let ids: [Int32] = [3, 3, 7, 7, 1, 9]
        let offsets: [Int32] = [0, 3, 4, 4, 6]
        for (k, id) in ids.enumerated() { feature.ids[k] = id }
        for (b, offset) in offsets.enumerated() { feature.offsets[b] = offset }
        let rows = 4, stride = 6  // pooled vectors land in a wider row, as in the interaction input
        let output = FloatBuffer(count: rows * stride)
        var random = TestRandom(seed: 8)
        let c = random.normals(rows * stride)

        func loss() -> Double {
            table.forward(feature, rows: rows, output: output.base + 1, outputStride: stride)
            return (0..<rows).reduce(0.0) { sum, b in
                sum + (0..<4).reduce(0.0) { $0 + c[b * stride + 1 + $1] * Double(output[b * stride + 1 + $1]) }
            }
        }
        _ = loss()
        #expect(output[2 * stride + 1] == 0, "an empty bag pools to zero")
        let gradient = FloatBuffer(count: rows * stride)
        for i in 0..<c.count { gradient[i] = Float(c[i]) }
        table.backward(feature, rows: rows, outputGradient: gradient.base + 1, gradientStride: stride)
        let touched = table.gradient.rows()
        #expect(touched.map(\.id) == [3, 7, 1, 9], "de-duplicated touched rows, in order of first use")

        for row in 0..<10 {
            let indices = (row * 4..<(row * 4 + 4)).map { $0 }
            let numeric = FiniteDifference.gradient(of: loss, parameters: table.weights.view, indices: indices)
            let analytic = touched.first { $0.id == row }?.gradient.map(Double.init) ?? [0, 0, 0, 0]
            #expect(FiniteDifference.mismatches(analytic: analytic, numeric: numeric).isEmpty, "row \(row)")
        }
        // Row 3 appears twice in bag 0: its gradient is twice that bag's output gradient.
        let row3 = touched.first { $0.id == 3 }!.gradient
        for k in 0..<4 { #expect(abs(Double(row3[k]) - 2 * c[1 + k]) < 1e-6) }
    }

    /// Output layout: slot 0 passed through (unless `passesFirstSlot` is off: then the dots
    /// alone), then <z1,z0>, <z2,z0>, <z2,z1>, <z3,z0>, ...; gradients by finite differences.
    /// Dimension 9 exercises both the 8-wide and the scalar lanes of backward.
    @Test(arguments: [(4, 3, true), (4, 9, true), (3, 9, false)])
    func dotInteractionGradient(features: Int, dimension d: Int, passesFirstSlot: Bool) {
        let interaction = DotInteraction(featureCount: features, dimension: d, passesFirstSlot: passesFirstSlot)
        let rows = 3
        let input = FloatBuffer(count: rows * interaction.inputWidth)
        let output = FloatBuffer(count: rows * interaction.outputWidth)
        var random = TestRandom(seed: 21)
        random.fill(input.view)
        let c = random.normals(rows * interaction.outputWidth)
        func loss() -> Double {
            interaction.forward(input: input.base, output: output.base, rows: rows)
            return (0..<c.count).reduce(0.0) { $0 + c[$1] * Double(output[$1]) }
        }
        _ = loss()
        let z = input.toArray(), first = passesFirstSlot ? d : 0
        func dot(_ i: Int, _ j: Int) -> Float { (0..<d).reduce(0) { $0 + z[i * d + $1] * z[j * d + $1] } }
        #expect(interaction.outputWidth == first + features * (features - 1) / 2)
        #expect(abs(output[first] - dot(1, 0)) < 1e-4 && abs(output[first + 1] - dot(2, 0)) < 1e-4
                && abs(output[first + 2] - dot(2, 1)) < 1e-4)
        if passesFirstSlot { #expect(Array(output.toArray().prefix(d)) == Array(z.prefix(d))) }

        let outputGradient = FloatBuffer(count: c.count)
        for i in 0..<c.count { outputGradient[i] = Float(c[i]) }
        let inputGradient = FloatBuffer(count: input.count)
        interaction.backward(input: input.base, outputGradient: outputGradient.base, inputGradient: inputGradient.base,
                             rows: rows)
        let numeric = FiniteDifference.gradient(of: loss, parameters: input.view, indices: Array(0..<input.count))
        let bad = FiniteDifference.mismatches(analytic: inputGradient.toArray().map(Double.init), numeric: numeric)
        #expect(bad.isEmpty, "\(bad.prefix(3))")
    }

    @Test func binaryCrossEntropyGradient() {
        let logits = FloatBuffer(count: 6), labels = FloatBuffer(count: 6), gradient = FloatBuffer(count: 6)
        logits.view.copy(from: [-3, -0.5, 0, 0.7, 2.5, 30])
        labels.view.copy(from: [0, 1, 1, 0, 1, 0])
        let loss = BinaryCrossEntropy.lossAndGradient(logits: logits.base, labels: labels.base,
                                                      logitGradient: gradient.base, count: 6)
        // Direct formula, in Double.
        // -log(sigmoid(x)) = log(1 + e^-x) for positives, -log(1 - sigmoid(x)) = log(1 + e^x) for negatives.
        let expected = zip(logits.toArray(), labels.toArray()).map { x, y -> Double in
            y == 1 ? log1p(exp(-Double(x))) : log1p(exp(Double(x)))
        }.reduce(0, +) / 6
        #expect(abs(loss - expected) < 1e-5)
        let numeric = FiniteDifference.gradient(
            of: { BinaryCrossEntropy.loss(logits: logits.base, labels: labels.base, count: 6) },
            parameters: logits.view, indices: Array(0..<6), step: 1e-3)
        #expect(FiniteDifference.mismatches(analytic: gradient.toArray().map(Double.init), numeric: numeric,
                                            absolute: 1e-4).isEmpty)
    }
}
