import Compute
import Foundation
import NeuralNetwork
import Testing
import TestSupport

/// Every layer's backward against central finite differences of L = sum(c * output) with fixed
/// random weights c, on every test backend. Tolerance: 1e-3 absolute + 1e-2 relative. The
/// forward runs in Float, so a loss of size ~1 is exact to ~1e-6 and the difference quotient
/// with step 1e-2 to ~1e-4; the rest of the budget covers the O(h^2) truncation error.
@Suite struct LayerGradientTests {
    /// sum(c * values) in Double, read through a host copy.
    static func weightedSum(_ c: [Double], _ values: DeviceSlice<Float>) -> Double {
        zip(c, values.toArray()).reduce(0.0) { $0 + $1.0 * Double($1.1) }
    }

    @Test(arguments: TestBackends.names)
    func mlpParameterAndInputGradients(backendName: String) {
        let backend = TestBackends.make(backendName)
        let arena = ParameterArena(backend: backend)
        let rows = 5, inputSize = 7
        let mlp = MLP(arena: arena, name: "mlp", inputSize: inputSize, widths: [6, 4, 3], reluOnLast: false,
                      batchCapacity: rows, needsInputGradient: true)
        arena.allocate()
        var random = TestRandom(seed: 11)
        var generator = SeededGenerator(seed: 3)
        mlp.initialize(using: &generator)
        let input = backend.makeFloats(rows * inputSize)
        random.fill(input.whole)
        let c = random.normals(rows * 3)

        func loss() -> Double { Self.weightedSum(c, mlp.forward(input: input.whole, rows: rows).slice(0, c.count)) }
        _ = loss()
        mlp.outputGradient.slice(0, c.count).copy(from: c.map(Float.init))
        arena.zeroGradients()
        let inputGradient = mlp.backward(input: input.whole, rows: rows)!
        let analyticInput = inputGradient.slice(0, input.count).toArray().map(Double.init)
        let analyticParameters = arena.gradients.toArray().map(Double.init)

        let numericInput = FiniteDifference.gradient(of: loss, parameters: input.whole, indices: Array(0..<input.count))
        #expect(FiniteDifference.mismatches(analytic: analyticInput, numeric: numericInput).isEmpty)
        for entry in arena.entries {
            let indices = (entry.offset..<(entry.offset + entry.count)).map { $0 }
            let numeric = FiniteDifference.gradient(of: loss, parameters: arena.values.whole, indices: indices)
            let analytic = indices.map { analyticParameters[$0] }
            let bad = FiniteDifference.mismatches(analytic: analytic, numeric: numeric)
            #expect(bad.isEmpty, "\(entry.name): \(bad.prefix(3))")
        }
    }

    /// A softmax gate over three experts: the gradients of its parameters, of its input and of
    /// every expert's output (which the gate adds into, as several gates share experts).
    @Test(arguments: TestBackends.names)
    func expertGateGradients(backendName: String) {
        let backend = TestBackends.make(backendName)
        let arena = ParameterArena(backend: backend)
        let rows = 5, inputSize = 4, width = 3, count = 3
        let gate = ExpertGate(arena: arena, name: "gate", inputSize: inputSize, expertCount: count, width: width, batchCapacity: rows)
        arena.allocate()
        var generator = SeededGenerator(seed: 9)
        gate.initialize(using: &generator)
        var random = TestRandom(seed: 12)
        let input = backend.makeFloats(rows * inputSize)
        random.fill(input.whole)
        let experts = (0..<count).map { _ in backend.makeFloats(rows * width) }
        for expert in experts { random.fill(expert.whole) }
        let c = random.normals(rows * width)

        func loss() -> Double {
            Self.weightedSum(c, gate.forward(input: input.whole, experts: experts.map(\.whole), rows: rows).slice(0, c.count))
        }
        _ = loss()
        let weights = gate.weights(rows: rows)!.toArray()
        for r in 0..<rows { #expect(abs(weights[(r * count)..<((r + 1) * count)].reduce(0, +) - 1) < 1e-6) }
        let outputGradient = backend.makeFloats(rows * width), inputGradient = backend.makeFloats(rows * inputSize)
        outputGradient.copy(from: c.map(Float.init))
        let expertGradients = (0..<count).map { _ in backend.makeFloats(rows * width) }
        // Gradients add: what was there stays.
        inputGradient.copy(from: Array(repeating: 1, count: rows * inputSize))
        for gradient in expertGradients { gradient.copy(from: Array(repeating: 2, count: rows * width)) }
        arena.zeroGradients()
        gate.backward(input: input.whole, experts: experts.map(\.whole), outputGradient: outputGradient.whole,
                      expertGradients: expertGradients.map(\.whole), inputGradient: inputGradient.whole, rows: rows)

        let numericInput = FiniteDifference.gradient(of: loss, parameters: input.whole, indices: Array(0..<input.count))
        #expect(FiniteDifference.mismatches(analytic: inputGradient.toArray().map { Double($0) - 1 }, numeric: numericInput).isEmpty)
        for (e, expert) in experts.enumerated() {
            let numeric = FiniteDifference.gradient(of: loss, parameters: expert.whole, indices: Array(0..<expert.count))
            let analytic = expertGradients[e].toArray().map { Double($0) - 2 }
            #expect(FiniteDifference.mismatches(analytic: analytic, numeric: numeric).isEmpty, "expert \(e)")
        }
        let analyticParameters = arena.gradients.toArray().map(Double.init)
        let numeric = FiniteDifference.gradient(of: loss, parameters: arena.values.whole, indices: Array(0..<arena.count))
        #expect(FiniteDifference.mismatches(analytic: analyticParameters, numeric: numeric).isEmpty)
    }

    /// Bags [3, 3, 7] (an id repeated within a bag), [7] (repeated across samples), [] (empty),
    /// [1, 9], in backend memory.
    static func bags(on backend: any ComputeBackend) -> EmbeddingBags {
        let ids = backend.makeIndices(6), offsets = backend.makeIndices(5)
        ids.copy(from: [3, 3, 7, 7, 1, 9])
        offsets.copy(from: [0, 3, 4, 4, 6])
        return EmbeddingBags(ids: ids.whole, offsets: offsets.whole, rows: 4, idCount: 6)
    }

    @Test(arguments: TestBackends.names, [Pooling.sum, .mean])
    func embeddingBagGradientWithRepeatedIDs(backendName: String, pooling: Pooling) {
        let backend = TestBackends.make(backendName)
        let table = EmbeddingTable(backend: backend, name: "t", rowCount: 10, dimension: 4, batchCapacity: 4, pooling: pooling)
        table.initializeUniform(seed: 5, tableIndex: 0)
        let bags = Self.bags(on: backend)
        let rows = 4, stride = 6  // pooled vectors land in a wider row, as in the interaction input
        let output = backend.makeFloats(rows * stride)
        var random = TestRandom(seed: 8)
        let c = random.normals(rows * stride)
        let mask = (0..<(rows * stride)).map { $0 % stride >= 1 && $0 % stride <= 4 ? 1.0 : 0.0 }

        func loss() -> Double {
            table.forward(bags, output: output.slice(1, output.count - 1), outputStride: stride)
            return Self.weightedSum(zip(c, mask).map { $0 * $1 }, output.whole)
        }
        _ = loss()
        #expect(output.slice(2 * stride + 1, 4).toArray() == [0, 0, 0, 0], "an empty bag pools to zero")
        let gradient = backend.makeFloats(rows * stride)
        gradient.copy(from: c.map(Float.init))
        table.backward(bags, outputGradient: gradient.slice(1, gradient.count - 1), gradientStride: stride)
        let touched = table.gradient.rows()
        #expect(touched.map(\.id) == [3, 7, 1, 9], "de-duplicated touched rows, in order of first use")

        for row in 0..<10 {
            let indices = (row * 4..<(row * 4 + 4)).map { $0 }
            let numeric = FiniteDifference.gradient(of: loss, parameters: table.weights.whole, indices: indices)
            let analytic = touched.first { $0.id == row }?.gradient.map(Double.init) ?? [0, 0, 0, 0]
            #expect(FiniteDifference.mismatches(analytic: analytic, numeric: numeric).isEmpty, "row \(row)")
        }
        // Row 3 appears twice in bag 0 (of 3 ids): twice that bag's output gradient (a third of
        // that with mean pooling).
        let row3 = touched.first { $0.id == 3 }!.gradient, share = pooling == .sum ? 2.0 : 2.0 / 3
        for k in 0..<4 { #expect(abs(Double(row3[k]) - share * c[1 + k]) < 1e-6) }
    }

    /// Fused SGD in backward moves every row exactly as collecting the gradient and applying it.
    @Test(arguments: [Pooling.sum, .mean])
    func fusedEmbeddingUpdateEqualsCollectedGradient(pooling: Pooling) {
        let backend = CPUBackend()
        let tables = (0..<2).map { _ in
            let table = EmbeddingTable(backend: backend, name: "t", rowCount: 10, dimension: 4, batchCapacity: 4, pooling: pooling)
            table.initializeUniform(seed: 5, tableIndex: 0)
            return table
        }
        let gradient = backend.makeFloats(16)
        var random = TestRandom(seed: 2)
        random.fill(gradient.whole)
        tables[0].backward(Self.bags(on: backend), outputGradient: gradient.whole, gradientStride: 4, mode: .fusedSGD(learningRate: 0.3))
        tables[1].backward(Self.bags(on: backend), outputGradient: gradient.whole, gradientStride: 4)
        SparseOptimizer(settings: OptimizerSettings(algorithm: .sgd), tables: [tables[1]]).step(tables: [tables[1]], learningRate: 0.3)
        let worst = zip(tables[0].weights.toArray(), tables[1].weights.toArray()).map { abs($0 - $1) }.max()!
        #expect(worst < 1e-6)
    }

    /// Output layout: slot 0 passed through (unless `passesFirstSlot` is off: then the dots
    /// alone), then <z1,z0>, <z2,z0>, <z2,z1>, <z3,z0>, ...; gradients by finite differences.
    /// Dimension 9 exercises both the 8-wide and the scalar lanes of backward.
    @Test(arguments: [(4, 3, true), (4, 9, true), (3, 9, false)])
    func dotInteractionGradient(features: Int, dimension d: Int, passesFirstSlot: Bool) {
        let backend = SeparateMemoryBackend()
        let interaction = DotInteraction(backend: backend, featureCount: features, dimension: d, passesFirstSlot: passesFirstSlot)
        let rows = 3
        let input = backend.makeFloats(rows * interaction.inputWidth)
        let output = backend.makeFloats(rows * interaction.outputWidth)
        var random = TestRandom(seed: 21)
        random.fill(input.whole)
        let c = random.normals(rows * interaction.outputWidth)
        func loss() -> Double {
            interaction.forward(input: input.whole, output: output.whole, rows: rows)
            return Self.weightedSum(c, output.whole)
        }
        _ = loss()
        let z = input.toArray(), first = passesFirstSlot ? d : 0, out = output.toArray()
        func dot(_ i: Int, _ j: Int) -> Float { (0..<d).reduce(0) { $0 + z[i * d + $1] * z[j * d + $1] } }
        #expect(interaction.outputWidth == first + features * (features - 1) / 2)
        #expect(abs(out[first] - dot(1, 0)) < 1e-4 && abs(out[first + 1] - dot(2, 0)) < 1e-4
                && abs(out[first + 2] - dot(2, 1)) < 1e-4)
        if passesFirstSlot { #expect(Array(out.prefix(d)) == Array(z.prefix(d))) }

        let outputGradient = backend.makeFloats(c.count)
        outputGradient.copy(from: c.map(Float.init))
        let inputGradient = backend.makeFloats(input.count)
        interaction.backward(input: input.whole, outputGradient: outputGradient.whole, inputGradient: inputGradient.whole,
                             rows: rows)
        let numeric = FiniteDifference.gradient(of: loss, parameters: input.whole, indices: Array(0..<input.count))
        let bad = FiniteDifference.mismatches(analytic: inputGradient.toArray().map(Double.init), numeric: numeric)
        #expect(bad.isEmpty, "\(bad.prefix(3))")
    }

    @Test func binaryCrossEntropyGradient() {
        let backend = SeparateMemoryBackend()
        let logits = backend.makeFloats(6), labels = backend.makeFloats(6), gradient = backend.makeFloats(6)
        logits.copy(from: [-3, -0.5, 0, 0.7, 2.5, 30])
        labels.copy(from: [0, 1, 1, 0, 1, 0])
        let loss = BinaryCrossEntropyLoss().lossAndGradient(outputs: logits.whole, labels: labels.whole, gradient: gradient.whole,
                                                            count: 6, gradientScale: 1.0 / 6)
        // Direct formula, in Double.
        // -log(sigmoid(x)) = log(1 + e^-x) for positives, -log(1 - sigmoid(x)) = log(1 + e^x) for negatives.
        let expected = zip(logits.toArray(), labels.toArray()).map { x, y -> Double in
            y == 1 ? log1p(exp(-Double(x))) : log1p(exp(Double(x)))
        }.reduce(0, +) / 6
        #expect(abs(loss - expected) < 1e-5)
        let numeric = FiniteDifference.gradient(
            of: { backend.binaryCrossEntropy(logits: logits.whole, labels: labels.whole, logitGradient: nil, count: 6, gradientScale: 0) / 6 },
            parameters: logits.whole, indices: Array(0..<6), step: 1e-3)
        #expect(FiniteDifference.mismatches(analytic: gradient.toArray().map(Double.init), numeric: numeric,
                                            absolute: 1e-4).isEmpty)
    }
}
