import Compute
import Testing
import TestSupport

@Suite struct KernelTests {
    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func gemmMatchesNaiveProduct(transposeA: Bool, transposeB: Bool) {
        let backend = SeparateMemoryBackend()
        let m = 5, n = 7, k = 9
        let a = backend.makeFloats(m * k), b = backend.makeFloats(k * n), c = backend.makeFloats(m * n)
        var random = TestRandom(seed: 1)
        random.fill(a.whole); random.fill(b.whole); random.fill(c.whole)
        let original = c.toArray(), hostA = a.toArray(), hostB = b.toArray()
        // Element (i, j) of op(A) and op(B), as stored row-major.
        func opA(_ i: Int, _ p: Int) -> Float { transposeA ? hostA[p * m + i] : hostA[i * k + p] }
        func opB(_ p: Int, _ j: Int) -> Float { transposeB ? hostB[j * k + p] : hostB[p * n + j] }
        backend.gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 2,
                     a: a.whole, lda: transposeA ? m : k, b: b.whole, ldb: transposeB ? k : n,
                     beta: 0.5, c: c.whole, ldc: n)
        let result = c.toArray()
        for i in 0..<m {
            for j in 0..<n {
                let expected = 2 * (0..<k).reduce(Float(0)) { $0 + opA(i, $1) * opB($1, j) } + 0.5 * original[i * n + j]
                #expect(abs(result[i * n + j] - expected) < 1e-4)
            }
        }
    }

    /// bf16 products: each operand rounded to bf16 (8 significant bits), accumulated in fp32,
    /// on strided operands with alpha and beta; against the fp32 product within the rounding of
    /// two bf16 operands (2^-8 relative each, over k = 9 terms of magnitude ~1).
    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func bfloat16GemmMatchesTheProductOfRoundedOperands(transposeA: Bool, transposeB: Bool) {
        guard CPUBackend.bfloat16Implementation != nil else {
            print("skipped the bf16 GEMM: this CPU has no bf16 instructions")
            return
        }
        let backend = CPUBackend(matmulPrecision: .bf16)
        #expect(backend.matmulPrecision == .bf16)
        let m = 5, n = 7, k = 9, lda = (transposeA ? m : k) + 3, ldb = (transposeB ? k : n) + 2, ldc = n + 4
        let a = backend.makeFloats((transposeA ? k : m) * lda), b = backend.makeFloats((transposeB ? n : k) * ldb)
        let c = backend.makeFloats(m * ldc)
        var random = TestRandom(seed: 2)
        random.fill(a.whole); random.fill(b.whole); random.fill(c.whole)
        let original = c.toArray(), hostA = a.toArray(), hostB = b.toArray()
        func rounded(_ x: Float) -> Float {
            let bits = x.bitPattern
            return Float(bitPattern: ((bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16) << 16)
        }
        func opA(_ i: Int, _ p: Int) -> Float { rounded(transposeA ? hostA[p * lda + i] : hostA[i * lda + p]) }
        func opB(_ p: Int, _ j: Int) -> Float { rounded(transposeB ? hostB[j * ldb + p] : hostB[p * ldb + j]) }
        backend.gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 2, a: a.whole, lda: lda,
                     b: b.whole, ldb: ldb, beta: 0.5, c: c.whole, ldc: ldc)
        let result = c.toArray()
        for i in 0..<m {
            for j in 0..<n {
                let expected = 2 * (0..<k).reduce(Float(0)) { $0 + opA(i, $1) * opB($1, j) } + 0.5 * original[i * ldc + j]
                #expect(abs(result[i * ldc + j] - expected) < 1e-4, "(\(i), \(j))")
            }
            for j in n..<ldc { #expect(result[i * ldc + j] == original[i * ldc + j], "padding of row \(i) untouched") }
        }
    }

    /// 16-bit packing rounds to nearest even (ties included), keeps signs, infinities and zero,
    /// and unpacks exactly; fp16 overflows to infinity past 65,504.
    @Test(arguments: TestBackends.names)
    func halfPrecisionPackingRoundsToNearestEven(backendName: String) {
        let backend = TestBackends.make(backendName)
        // 1 + 2^-8 is a tie between bf16 1 and 1 + 2^-7 (even: 1); 1 + 3 * 2^-8 rounds up to 1 + 2^-6.
        let values: [Float] = [0, -0.0, 1, 1 + 0x1p-8, 1 + 3 * 0x1p-8, -3.14159, 1e-3, 70_000, .infinity, -.infinity, 0.1]
        let source = backend.makeFloats(values.count), packed = backend.makeBuffer(UInt16.self, count: values.count)
        let unpacked = backend.makeFloats(values.count)
        source.copy(from: values)
        backend.pack(source.whole, as: .bf16, into: packed.whole)
        backend.unpack(packed.whole, from: .bf16, into: unpacked.whole)
        let bf16 = unpacked.toArray()
        #expect(bf16[3] == 1 && bf16[4] == 1 + 0x1p-6 && bf16[1].sign == .minus && bf16[8] == .infinity)
        for (value, result) in zip(values, bf16) where value.isFinite {
            #expect(abs(result - value) <= abs(value) * 0x1p-8, "bf16 \(value) -> \(result)")
        }
        backend.pack(source.whole, as: .fp16, into: packed.whole)
        backend.unpack(packed.whole, from: .fp16, into: unpacked.whole)
        let fp16 = unpacked.toArray()
        for (value, result) in zip(values, fp16) { #expect(result == Float(Float16(value)), "fp16 \(value) -> \(result)") }
        #expect(fp16[7] == .infinity, "70,000 is past fp16's largest finite value")
    }

    @Test(arguments: [0, 1, 7, 8, 15, 16, 17, 33, 100])
    func dotMatchesAPlainLoop(count: Int) {
        let x = FloatBuffer(count: count), y = FloatBuffer(count: count)
        var random = TestRandom(seed: UInt64(count))
        random.fill(x.view); random.fill(y.view)
        let dot = (0..<count).reduce(0.0) { $0 + Double(x[$1]) * Double(y[$1]) }
        #expect(abs(Double(Kernels.dot(x.base, y.base, count: count)) - dot) < 1e-4)
    }

    @Test(arguments: TestBackends.names)
    func biasReLUAndBackward(backendName: String) {
        let backend = TestBackends.make(backendName)
        let y = backend.makeFloats(6), bias = backend.makeFloats(3)
        y.copy(from: [1, -2, 0.5, -1, 3, -0.5])
        bias.copy(from: [0.5, 1, -1])
        backend.addBias(y.whole, bias: bias.whole, rows: 2, columns: 3, relu: true)
        #expect(y.toArray() == [1.5, 0, 0, 0, 4, 0])
        let g = backend.makeFloats(6)
        g.copy(from: [1, 1, 1, 1, 1, 1])
        backend.reluBackward(gradient: g.whole, output: y.whole, count: 6)
        #expect(g.toArray() == [1, 0, 0, 0, 1, 0])
        let sums = backend.makeFloats(3)
        backend.accumulateColumnSums(y.whole, rows: 2, columns: 3, into: sums.whole)
        #expect(sums.toArray() == [1.5, 4, 0])
    }

    /// Sum and mean pooling against a loop over the bags; the (table, row) gather and scatter
    /// against the same rows read by hand.
    @Test(arguments: TestBackends.names)
    func embeddingBagsAndRowExchangeOperations(backendName: String) {
        let backend = TestBackends.make(backendName)
        let table = backend.makeFloats(5 * 2)
        let values: [Float] = (0..<10).map { Float($0) }
        table.copy(from: values)
        let ids = backend.makeIndices(4), offsets = backend.makeIndices(4)
        ids.copy(from: [4, 0, 4, 2])
        offsets.copy(from: [0, 3, 3, 4])
        let bags = EmbeddingBags(ids: ids.whole, offsets: offsets.whole, rows: 3, idCount: 4)
        let output = backend.makeFloats(6)
        backend.embeddingBags(bags, table: table.whole, dimension: 2, output: output.whole, outputStride: 2, pooling: .sum)
        #expect(output.toArray() == [16, 19, 0, 0, 4, 5])
        backend.embeddingBags(bags, table: table.whole, dimension: 2, output: output.whole, outputStride: 2, pooling: .mean)
        #expect(output.toArray() == [16.0 / 3, 19.0 / 3, 0, 0, 4, 5])

        // A shard holding rows 3 and 4 of table 1 (table 0 not held).
        let shard = ShardRows(weights: table.slice(6, 4), firstRow: 3)
        let pairs = backend.makeIndices(4)
        pairs.copy(from: [1, 4, 1, 3])
        let gathered = backend.makeFloats(4)
        backend.gatherRows([nil, shard], pairs: pairs.whole, count: 2, dimension: 2, into: gathered.whole)
        #expect(gathered.toArray() == [8, 9, 6, 7])
        backend.scatterAddRows(gathered.whole, pairs: pairs.whole, count: 2, scale: -1, into: [nil, shard], dimension: 2)
        #expect(table.toArray() == Array(values.prefix(6)) + [0, 0, 0, 0])
    }

    /// ½ Σ_k((Σ_f v_fk)² − Σ_f v_fk²) is the sum of the pairwise dots; its backward is
    /// g (Σ_g v_g − v_f); the cross layer's element-wise operations.
    @Test(arguments: TestBackends.names)
    func factorizationMachineAndElementwiseOperations(backendName: String) {
        let backend = TestBackends.make(backendName)
        let fields = 4, d = 3, stride = 14, rows = 2
        let input = backend.makeFloats(rows * stride)
        var random = TestRandom(seed: 3)
        random.fill(input.whole)
        let v = input.toArray()
        let output = backend.makeFloats(rows)
        output.copy(from: [1, -1])
        backend.factorizationMachine(input: input.whole, rowStride: stride, fields: fields, dimension: d, rows: rows,
                                     addingInto: output.whole)
        let gradient = backend.makeFloats(rows), inputGradient = backend.makeFloats(rows * stride)
        gradient.copy(from: [0.5, 2])
        backend.factorizationMachineBackward(input: input.whole, rowStride: stride, fields: fields, dimension: d, rows: rows,
                                             outputGradient: gradient.whole, addingInto: inputGradient.whole)
        let result = output.toArray(), dv = inputGradient.toArray()
        for b in 0..<rows {
            func x(_ f: Int, _ k: Int) -> Float { v[b * stride + f * d + k] }
            var pairs: Float = 0
            for f in 0..<fields { for g in 0..<f { for k in 0..<d { pairs += x(f, k) * x(g, k) } } }
            #expect(abs(result[b] - ([1, -1][b] + pairs)) < 1e-5)
            for f in 0..<fields {
                for k in 0..<d {
                    let others = (0..<fields).filter { $0 != f }.reduce(Float(0)) { $0 + x($1, k) }
                    #expect(abs(dv[b * stride + f * d + k] - [0.5, 2][b] * others) < 1e-5)
                }
            }
            #expect(dv[(b * stride + fields * d)..<(b * stride + stride)].allSatisfy { $0 == 0 }, "columns past the fields untouched")
        }

        let a = backend.makeFloats(3), c = backend.makeFloats(3), out = backend.makeFloats(3)
        a.copy(from: [1, 2, 3]); c.copy(from: [0.5, 0.5, 0.5])
        backend.multiply(a.whole, a.whole, into: out.whole)
        #expect(out.toArray() == [1, 4, 9])
        backend.multiplyAdd(a.whole, out.whole, plus: c.whole, into: c.whole)
        #expect(c.toArray() == [1.5, 8.5, 27.5])
    }

    @Test func arenaLaysParametersOutAlignedAndNamed() {
        let arena = ParameterArena(backend: SeparateMemoryBackend())
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
        let backend = SeparateMemoryBackend(), buffer = backend.makeFloats(values.count)
        buffer.copy(from: values)
        #expect(backend.allFinite(buffer.whole))
        for bad: Float in [.nan, -.nan, .infinity, -.infinity, .signalingNaN] {
            for position in [0, 17, 36] {
                var damaged = values
                damaged[position] = bad
                buffer.copy(from: damaged)
                #expect(!backend.allFinite(buffer.whole), "\(bad) at \(position)")
            }
        }
    }
}

/// What makes the separate-memory backend a proof: its memory has no host address, its
/// buffers cross only by copies, and host code that reaches for them fails loudly.
@Suite struct SeparateMemoryTests {
    @Test func buffersHaveNoHostAddressAndCrossOnlyByCopies() {
        let backend = SeparateMemoryBackend(), buffer = backend.makeFloats(4)
        #expect(backend.hostAddress(of: buffer.whole) == nil)
        let cpu = CPUBackend()
        #expect(cpu.hostAddress(of: cpu.makeFloats(1).whole) != nil)
        buffer.copy(from: [1, 2, 3, 4])
        #expect(buffer.slice(1, 2).toArray() == [2, 3])
        // Transports stage through host copies and write back.
        buffer.whole.withHostMemory(writesBack: true) { host in host[0] = 9 }
        #expect(buffer.toArray() == [9, 2, 3, 4])
    }

    @Test func aBufferOfAnotherBackendIsRefused() async {
        await #expect(processExitsWith: .failure) {
            let separate = SeparateMemoryBackend(), host = CPUBackend()
            separate.copy(host.makeFloats(2).whole, to: separate.makeFloats(2).whole)
        }
    }
}
