import Compute
import Testing

/// The row-parallel kernels (embedding bags, the dot interaction and its backward, bias with
/// ReLU, ReLU backward) give the same bits on 3 threads as on 1: each thread writes only its
/// own rows, in the order one thread would.
@Suite(.serialized) struct RowThreadsTests {
    @Test func threadsChangeNoBits() {
        let backend = CPUBackend()
        let rows = 1_500, features = 9, dimension = 16, tableRows = 1_000
        var generator = SeededGenerator(seed: 5)
        func floats(_ count: Int) -> DeviceBuffer<Float> {
            let buffer = backend.makeFloats(count)
            buffer.copy(from: (0..<count).map { _ in Float(generator.nextUniform() * 2 - 1) })
            return buffer
        }
        let table = floats(tableRows * dimension)
        // Bags of 0 to 3 ids.
        var offsetValues: [Int32] = [0], idValues: [Int32] = []
        for b in 0..<rows {
            for _ in 0..<(b % 4) { idValues.append(Int32(generator.next() % UInt64(tableRows))) }
            offsetValues.append(Int32(idValues.count))
        }
        let ids = backend.makeIndices(idValues.count), offsets = backend.makeIndices(rows + 1)
        ids.copy(from: idValues)
        offsets.copy(from: offsetValues)
        let bags = EmbeddingBags(ids: ids.whole, offsets: offsets.whole, rows: rows, idCount: idValues.count)
        let shape = InteractionShape(featureCount: features, dimension: dimension, passesFirstSlot: true)
        let interactionInput = floats(rows * shape.inputWidth), outputGradient = floats(rows * shape.outputWidth)
        let bias = floats(shape.outputWidth)

        func run(threads: Int) -> [[Float]] {
            RowThreads.setCount(threads)
            defer { RowThreads.setCount(1) }
            let pooled = backend.makeFloats(rows * dimension)
            backend.embeddingBags(bags, table: table.whole, dimension: dimension, output: pooled.whole, outputStride: dimension,
                                  pooling: .mean)
            let interaction = backend.makeFloats(rows * shape.outputWidth)
            backend.dotInteraction(shape, input: interactionInput.whole, output: interaction.whole, rows: rows)
            let inputGradient = backend.makeFloats(rows * shape.inputWidth)
            backend.dotInteractionBackward(shape, input: interactionInput.whole, outputGradient: outputGradient.whole,
                                           inputGradient: inputGradient.whole, rows: rows)
            backend.addBias(interaction.whole, bias: bias.whole, rows: rows, columns: shape.outputWidth, relu: true)
            let gradient = backend.makeFloats(rows * shape.outputWidth)
            gradient.copy(from: outputGradient.toArray())
            backend.reluBackward(gradient: gradient.whole, output: interaction.whole, count: rows * shape.outputWidth)
            return [pooled.toArray(), interaction.toArray(), inputGradient.toArray(), gradient.toArray()]
        }
        let one = run(threads: 1), three = run(threads: 3)
        #expect(one[0].contains { $0 != 0 } && one[3].contains { $0 != 0 } && one[3].contains { $0 == 0 })
        for (kernel, (a, b)) in zip(["embedding bags", "interaction + bias + ReLU", "interaction backward", "ReLU backward"],
                                    zip(one, three)) {
            #expect(a == b, "\(kernel)")
        }
    }

    /// bf16 products are cut into blocks of rows, each a single-threaded oneDNN matmul of its
    /// thread's own (issue 28, item 2): 3 threads give the bits of 1, over fp32 operands and over
    /// operands rounded already, C taller or wider than tall (cut by columns, 2 threads changed
    /// a third of the 256 x 2048 product's bits).
    @Test func threadedBFloat16ProductsChangeNoBits() {
        guard CPUBackend.bfloat16Implementation != nil else {
            print("skipped the threaded bf16 products: this CPU has no bf16 instructions")
            return
        }
        let backend = CPUBackend(matmulPrecision: .bf16)
        var generator = SeededGenerator(seed: 4)
        for (m, n, k) in [(m: 2_048, n: 512, k: 367), (m: 256, n: 2_048, k: 512), (m: 512, n: 367, k: 2_048), (m: 64, n: 432, k: 2_048)] {
            for (transposeA, transposeB) in [(false, true), (true, false), (false, false)] {
                let a = backend.makeFloats(m * k), b = backend.makeFloats(k * n)
                a.copy(from: (0..<(m * k)).map { _ in Float(generator.nextUniform() * 2 - 1) })
                b.copy(from: (0..<(k * n)).map { _ in Float(generator.nextUniform() * 2 - 1) })
                let roundedA = backend.makeBuffer(UInt16.self, count: m * k), roundedB = backend.makeBuffer(UInt16.self, count: k * n)
                backend.pack(a.whole, as: .bf16, into: roundedA.whole)
                backend.pack(b.whole, as: .bf16, into: roundedB.whole)
                let lda = transposeA ? m : k, ldb = transposeB ? k : n
                var parts = 0
                func products(threads: Int) -> [[Float]] {
                    RowThreads.setCount(threads)
                    defer { RowThreads.setCount(1) }
                    parts = ProductBlock.parts(m: m, n: n, k: k)
                    let c = backend.makeFloats(m * n), d = backend.makeFloats(m * n)
                    backend.gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 1, a: a.whole, lda: lda,
                                 b: b.whole, ldb: ldb, beta: 0, c: c.whole, ldc: n)
                    backend.gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 1, a: roundedA.whole, lda: lda,
                                 b: roundedB.whole, ldb: ldb, beta: 0, c: d.whole, ldc: n)
                    return [c.toArray(), d.toArray()]
                }
                let one = products(threads: 1), three = products(threads: 3)
                #expect(parts == min(3, m / 32), "\(m)x\(n)x\(k): 3 threads cut the product in \(min(3, m / 32)) blocks")
                let label = "\(m)x\(n)x\(k) transposeA \(transposeA) transposeB \(transposeB)"
                #expect(zip(one[0], three[0]).filter { $0.bitPattern != $1.bitPattern }.count == 0, "\(label): fp32 operands")
                #expect(zip(one[1], three[1]).filter { $0.bitPattern != $1.bitPattern }.count == 0, "\(label): rounded operands")
            }
        }
    }

    /// fp32 products cut into blocks of rows, every transpose and both betas, at the shapes of an
    /// MLP layer's forward, input gradient and weight gradient (C taller or wider than tall): 3
    /// threads give the bits of 1, and both match a product in Double. On an AVX2 CPU OpenBLAS
    /// changed the bits of blocks cut at multiples of 16 rows, and of blocks of columns at any
    /// multiple; with OpenBLAS's own 2 threads (unless `BLAS` sets one) the 256 x 429 product's.
    @Test func threadedProductsChangeNoBits() {
        var generator = SeededGenerator(seed: 9)
        // 64 x 432 x 2048: a rank-64 cross layer's weight gradient, in 2 blocks of 36 and 28 rows.
        let shapes = [(m: 1_000, n: 429, k: 130), (m: 256, n: 429, k: 1_000), (m: 64, n: 432, k: 2_048), (m: 1, n: 300, k: 700),
                      (m: 700, n: 1, k: 64), (m: 250, n: 8, k: 48), (m: 250, n: 48, k: 8), (m: 250, n: 16, k: 48)]
        for (m, n, k) in shapes {
            for transposeA in [false, true] {
                for transposeB in [false, true] {
                    for beta: Float in [0, 1] {
                        let a = (0..<(m * k)).map { _ in Float(generator.nextUniform() * 2 - 1) }
                        let b = (0..<(k * n)).map { _ in Float(generator.nextUniform() * 2 - 1) }
                        let start = (0..<(m * n)).map { _ in Float(generator.nextUniform()) }
                        let lda = transposeA ? m : k, ldb = transposeB ? k : n
                        var parts = 0
                        func product(threads: Int) -> [Float] {
                            RowThreads.setCount(threads)
                            defer { RowThreads.setCount(1) }
                            parts = ProductBlock.parts(m: m, n: n, k: k)
                            var c = start
                            BLAS.gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 0.5,
                                      a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: &c, ldc: n)
                            return c
                        }
                        let one = product(threads: 1), three = product(threads: 3)
                        let label = "\(m)x\(n)x\(k) transposeA \(transposeA) transposeB \(transposeB) beta \(beta)"
                        #expect(parts == (m * n * k >= 1 << 22 ? min(3, m / 32) : 1), "\(label): cut in \(parts) blocks")
                        let differing = zip(one, three).filter { $0 != $1 }.count
                        #expect(differing == 0, "\(label)")
                        var largestError = 0.0
                        for i in stride(from: 0, to: m, by: max(1, m / 7)) {
                            for j in stride(from: 0, to: n, by: max(1, n / 7)) {
                                var sum = 0.0
                                for p in 0..<k {
                                    let x = transposeA ? a[p * lda + i] : a[i * lda + p]
                                    let y = transposeB ? b[j * ldb + p] : b[p * ldb + j]
                                    sum += Double(x) * Double(y)
                                }
                                let expected = 0.5 * sum + Double(beta) * Double(start[i * n + j])
                                largestError = max(largestError, abs(expected - Double(three[i * n + j])))
                            }
                        }
                        #expect(largestError < 1e-3, "\(label)")
                    }
                }
            }
        }
    }
}
