import Compute
import Testing
import TestSupport

@Suite struct KernelTests {
    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func gemmMatchesNaiveProduct(transposeA: Bool, transposeB: Bool) {
        let m = 5, n = 7, k = 9
        let a = FloatBuffer(count: m * k), b = FloatBuffer(count: k * n), c = FloatBuffer(count: m * n)
        var random = TestRandom(seed: 1)
        random.fill(a.view); random.fill(b.view); random.fill(c.view)
        let original = c.toArray()
        // Element (i, j) of op(A) and op(B), as stored row-major.
        func opA(_ i: Int, _ p: Int) -> Float { transposeA ? a[p * m + i] : a[i * k + p] }
        func opB(_ p: Int, _ j: Int) -> Float { transposeB ? b[j * k + p] : b[p * n + j] }
        BLAS.gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 2,
                  a: a.base, lda: transposeA ? m : k, b: b.base, ldb: transposeB ? k : n,
                  beta: 0.5, c: c.base, ldc: n)
        for i in 0..<m {
            for j in 0..<n {
                let expected = 2 * (0..<k).reduce(Float(0)) { $0 + opA(i, $1) * opB($1, j) } + 0.5 * original[i * n + j]
                #expect(abs(c[i * n + j] - expected) < 1e-4)
            }
        }
    }

    @Test(arguments: [0, 1, 7, 8, 15, 16, 17, 33, 100])
    func dotMatchesAPlainLoop(count: Int) {
        let x = FloatBuffer(count: count), y = FloatBuffer(count: count)
        var random = TestRandom(seed: UInt64(count))
        random.fill(x.view); random.fill(y.view)
        let dot = (0..<count).reduce(0.0) { $0 + Double(x[$1]) * Double(y[$1]) }
        #expect(abs(Double(Kernels.dot(x.base, y.base, count: count)) - dot) < 1e-4)
    }

    @Test func biasReLUAndBackward() {
        let y = FloatBuffer(count: 6), bias = FloatBuffer(count: 3)
        y.view.copy(from: [1, -2, 0.5, -1, 3, -0.5])
        bias.view.copy(from: [0.5, 1, -1])
        Kernels.addRowBiasReLU(y.base, bias: bias.base, rows: 2, columns: 3)
        #expect(y.toArray() == [1.5, 0, 0, 0, 4, 0])
        let g = FloatBuffer(count: 6)
        g.view.copy(from: [1, 1, 1, 1, 1, 1])
        Kernels.reluBackward(gradient: g.base, output: y.base, count: 6)
        #expect(g.toArray() == [1, 0, 0, 0, 1, 0])
        let sums = FloatBuffer(count: 3)
        Kernels.accumulateColumnSums(y.base, rows: 2, columns: 3, into: sums.base)
        #expect(sums.toArray() == [1.5, 4, 0])
    }

    @Test func arenaLaysParametersOutAlignedAndNamed() {
        let arena = ParameterArena()
        let first = arena.reserve("a/weight", shape: [3, 5])
        let second = arena.reserve("a/bias", shape: [3])
        arena.allocate()
        #expect(first == 0 && second == 16, "each parameter starts on a 64-byte boundary")
        #expect(arena.entries.map(\.name) == ["a/weight", "a/bias"] && arena.entries[1].shape == [3])
        #expect(arena.gradients.count == arena.values.count)
    }

    @Test func seededGeneratorIsReproducible() {
        var a = SeededGenerator(seed: 9, stream: 2), b = SeededGenerator(seed: 9, stream: 2)
        var c = SeededGenerator(seed: 9, stream: 3)
        let first = (0..<4).map { _ in a.next() }
        #expect(first == (0..<4).map { _ in b.next() })
        #expect(first != (0..<4).map { _ in c.next() })
    }
}

@Suite struct FiniteCheckTests {
    @Test func allFiniteFindsAnyNaNOrInfinity() {
        let finite: [Float] = [0, -0, 1, -3.5, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
                               .leastNonzeroMagnitude, .leastNormalMagnitude]
        let values = (0..<37).map { finite[$0 % finite.count] }
        #expect(values.withUnsafeBufferPointer { Kernels.allFinite($0.baseAddress!, count: $0.count) })
        for bad: Float in [.nan, -.nan, .infinity, -.infinity, .signalingNaN] {
            for position in [0, 17, 36] {
                var damaged = values
                damaged[position] = bad
                #expect(!damaged.withUnsafeBufferPointer { Kernels.allFinite($0.baseAddress!, count: $0.count) },
                        "\(bad) at \(position)")
            }
        }
    }
}
