import CIntrinsics
import Compute
import Foundation
import Testing
import TestSupport

/// The retriever's kernels against plain Double arithmetic: the vectorised exponential, the
/// in-batch softmax cross-entropy (eight columns at a time and a tail), the normalisation.
@Suite struct RetrievalKernelTests {
    /// e^x within 2e-7 relative over the range a softmax sees, 0 for -inf and far below; the
    /// sum of a shifted row (as the softmax takes it) to 1e-6.
    @Test func exponentialIsCloseToTheLibrarys() {
        var values = stride(from: -87.0, through: 88.0, by: 0.173).map { Float($0) } + [-.infinity, -200, -87.5, 0, 1e-8]
        let original = values
        _ = values.withUnsafeMutableBufferPointer { recsys_exp_shifted_sum($0.baseAddress!, $0.count, 0) }
        for (x, e) in zip(original, values) {
            let exact = x < -87.3 ? 0 : Foundation.exp(Double(x))
            #expect(abs(Double(e) - exact) <= 2e-7 * exact, "e^\(x): \(e) vs \(exact)")
        }
        var row = stride(from: -20.0, through: 20.0, by: 0.37).map { Float($0) }
        let expected = row.reduce(0.0) { $0 + Foundation.exp(Double($1) - 20) }
        let sum = row.withUnsafeMutableBufferPointer { recsys_exp_shifted_sum($0.baseAddress!, $0.count, 20) }
        #expect(abs(Double(sum) - expected) <= 1e-6 * expected, "\(sum) vs \(expected)")
    }

    /// 5 rows against 37 gathered columns (keys with repeats: accidental hits), the targets from
    /// column 11: loss and gradient as written, on every backend.
    @Test(arguments: TestBackends.names)
    func sampledSoftmaxCrossEntropyMatchesADirectComputation(backendName: String) {
        let backend = TestBackends.make(backendName)
        let rows = 5, columns = 37, first = 11, scale: Float = 0.25
        var random = TestRandom(seed: 17)
        let logits = (0..<(rows * columns)).map { _ in Float(random.generator.nextUniform() * 20 - 10) }
        let corrections = (0..<columns).map { _ in Float(random.generator.nextUniform() * -6) }
        let keys = (0..<columns).map { Int32($0 % 13) }  // columns c and c + 13 hold the same item
        let l = backend.makeFloats(logits.count), q = backend.makeFloats(columns), k = backend.makeIndices(columns)
        l.copy(from: logits)
        q.copy(from: corrections)
        k.copy(from: keys)
        let loss = backend.sampledSoftmaxCrossEntropy(l.whole, rows: rows, columns: columns, corrections: q.whole, keys: k.whole,
                                                      firstTarget: first, gradientScale: scale)
        let gradient = l.toArray()
        var expectedLoss = 0.0
        for r in 0..<rows {
            let target = first + r
            let kept = (0..<columns).filter { $0 == target || keys[$0] != keys[target] }
            let z = kept.map { Double(logits[r * columns + $0]) - Double(corrections[$0]) }
            let largest = z.max()!, total = z.reduce(0) { $0 + Foundation.exp($1 - largest) }
            expectedLoss += Foundation.log(total) + largest - z[kept.firstIndex(of: target)!]
            for c in 0..<columns {
                var expected = 0.0
                if let i = kept.firstIndex(of: c) { expected = Foundation.exp(z[i] - largest) / total - (c == target ? 1 : 0) }
                #expect(abs(Double(gradient[r * columns + c]) - Double(scale) * expected) < 1e-6, "row \(r), column \(c)")
            }
        }
        #expect(abs(loss - expectedLoss) < 1e-4 * expectedLoss, "\(loss) vs \(expectedLoss)")
    }

    /// Unit rows and the gradient through them, against the formula in Double.
    @Test(arguments: TestBackends.names)
    func normalizeRowsAndBackward(backendName: String) {
        let backend = TestBackends.make(backendName)
        let rows = 3, columns = 11
        var random = TestRandom(seed: 4)
        let x = (0..<(rows * columns)).map { _ in Float(random.generator.nextUniform() * 2 - 1) }
        let dy = (0..<(rows * columns)).map { _ in Float(random.generator.nextUniform() * 2 - 1) }
        let xs = backend.makeFloats(x.count), ys = backend.makeFloats(x.count), norms = backend.makeFloats(rows)
        let dys = backend.makeFloats(x.count), dxs = backend.makeFloats(x.count)
        xs.copy(from: x)
        dys.copy(from: dy)
        backend.normalizeRows(xs.whole, into: ys.whole, norms: norms.whole, rows: rows, columns: columns)
        backend.normalizeRowsBackward(output: ys.whole, norms: norms.whole, outputGradient: dys.whole, into: dxs.whole, rows: rows,
                                      columns: columns)
        let y = ys.toArray(), dx = dxs.toArray()
        for r in 0..<rows {
            let row = (0..<columns).map { Double(x[r * columns + $0]) }, norm = row.reduce(0) { $0 + $1 * $1 }.squareRoot()
            let unit = row.map { $0 / norm }
            let along = (0..<columns).reduce(0.0) { $0 + unit[$1] * Double(dy[r * columns + $1]) }
            for c in 0..<columns {
                #expect(abs(Double(y[r * columns + c]) - unit[c]) < 1e-6)
                #expect(abs(Double(dx[r * columns + c]) - (Double(dy[r * columns + c]) - unit[c] * along) / norm) < 1e-5)
            }
        }
    }
}
