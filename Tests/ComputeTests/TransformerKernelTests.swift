import Compute
import Testing
import TestSupport

/// Layer norm and masked attention, forward against plain formulas and backward against finite
/// differences of L = Σ w ⊙ output (w random), on every test backend.
@Suite struct TransformerKernelTests {
    @Test(arguments: TestBackends.names)
    func layerNormAgainstFiniteDifferences(backendName: String) {
        let backend = TestBackends.make(backendName)
        let rows = 3, width = 5
        let input = backend.makeFloats(rows * width), output = backend.makeFloats(rows * width)
        let gamma = backend.makeFloats(width), beta = backend.makeFloats(width)
        let means = backend.makeFloats(rows), inverses = backend.makeFloats(rows)
        var random = TestRandom(seed: 3)
        random.fill(input.whole); random.fill(gamma.whole); random.fill(beta.whole)
        let weights = random.normals(rows * width)
        func loss() -> Double {
            backend.layerNorm(input: input.whole, gamma: gamma.whole, beta: beta.whole, output: output.whole,
                              means: means.whole, inverseDeviations: inverses.whole, rows: rows, width: width, epsilon: 1e-5)
            return zip(output.toArray(), weights).reduce(0) { $0 + Double($1.0) * $1.1 }
        }
        _ = loss()
        // Forward: row 0 by the formula.
        let x = Array(input.toArray()[0..<width]), mean = x.reduce(0, +) / Float(width)
        let variance = x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(width)
        let g = gamma.toArray(), b = beta.toArray(), y = output.toArray()
        for c in 0..<width { #expect(abs(y[c] - (g[c] * (x[c] - mean) / (variance + 1e-5).squareRoot() + b[c])) < 1e-5) }

        let outputGradient = backend.makeFloats(rows * width), inputGradient = backend.makeFloats(rows * width)
        let gammaGradient = backend.makeFloats(width), betaGradient = backend.makeFloats(width)
        outputGradient.copy(from: weights.map(Float.init))
        backend.layerNormBackward(input: input.whole, gamma: gamma.whole, means: means.whole, inverseDeviations: inverses.whole,
                                  outputGradient: outputGradient.whole, inputGradient: inputGradient.whole,
                                  gammaGradient: gammaGradient.whole, betaGradient: betaGradient.whole, rows: rows, width: width)
        for (parameters, analytic) in [(input, inputGradient), (gamma, gammaGradient), (beta, betaGradient)] {
            let numeric = FiniteDifference.gradient(of: loss, parameters: parameters.whole, indices: Array(0..<parameters.count),
                                                    step: 1e-3)
            let bad = FiniteDifference.mismatches(analytic: analytic.toArray().map(Double.init), numeric: numeric, absolute: 1e-3)
            #expect(bad.isEmpty, "\(bad.prefix(5))")
        }
    }

    @Test(arguments: TestBackends.names)
    func attentionAgainstFiniteDifferences(backendName: String) {
        let backend = TestBackends.make(backendName)
        let shape = AttentionShape(sequences: 3, length: 4, heads: 2, headDimension: 3)
        let count = shape.elementCount
        let queries = backend.makeFloats(count), keys = backend.makeFloats(count), values = backend.makeFloats(count)
        let output = backend.makeFloats(count), probabilities = backend.makeFloats(shape.probabilityCount)
        let lengths = backend.makeIndices(3)
        lengths.copy(from: [4, 2, 0])  // full, padded, and none (treated as the last position alone)
        var random = TestRandom(seed: 8)
        random.fill(queries.whole); random.fill(keys.whole); random.fill(values.whole)
        let weights = random.normals(count)
        func loss() -> Double {
            backend.attention(shape, queries: queries.whole, keys: keys.whole, values: values.whole, lengths: lengths.whole,
                              probabilities: probabilities.whole, output: output.whole)
            return zip(output.toArray(), weights).reduce(0) { $0 + Double($1.0) * $1.1 }
        }
        _ = loss()
        // Sequence 1 lets positions 2 and 3 through: no probability on 0 and 1, rows sum to 1.
        let p = probabilities.toArray()
        for h in 0..<2 {
            for i in 0..<4 {
                let row = Array(p[(((1 * 2 + h) * 4 + i) * 4)..<(((1 * 2 + h) * 4 + i) * 4 + 4)])
                #expect(row[0] == 0 && row[1] == 0 && abs(row[2] + row[3] - 1) < 1e-6)
            }
        }
        // Sequence 2 (length 0): every query takes the last position's value.
        let o = output.toArray(), v = values.toArray()
        for i in 0..<4 {
            for c in 0..<6 { #expect(abs(o[(2 * 4 + i) * 6 + c] - v[(2 * 4 + 3) * 6 + c]) < 1e-6) }
        }

        let outputGradient = backend.makeFloats(count)
        outputGradient.copy(from: weights.map(Float.init))
        let gradients = (0..<3).map { _ in backend.makeFloats(count) }
        backend.attentionBackward(shape, queries: queries.whole, keys: keys.whole, values: values.whole, lengths: lengths.whole,
                                  probabilities: probabilities.whole, outputGradient: outputGradient.whole,
                                  queryGradient: gradients[0].whole, keyGradient: gradients[1].whole, valueGradient: gradients[2].whole)
        for (parameters, analytic) in zip([queries, keys, values], gradients) {
            let numeric = FiniteDifference.gradient(of: loss, parameters: parameters.whole, indices: Array(0..<count), step: 1e-3)
            let bad = FiniteDifference.mismatches(analytic: analytic.toArray().map(Double.init), numeric: numeric, absolute: 1e-3)
            #expect(bad.isEmpty, "\(bad.prefix(5))")
        }
    }
}
