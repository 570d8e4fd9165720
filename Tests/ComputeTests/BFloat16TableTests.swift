import Compute
import Testing
import TestSupport

/// Tables stored in bf16: lookups read the rows widened (exactly), and the sparse optimizers
/// update each touched row in fp32 and write it back by stochastic rounding, unbiased and drawn
/// from (seed, global row, element) only.
@Suite struct BFloat16TableTests {
    /// `count` random values rounded to bf16: the stored bits and the fp32 they stand for.
    static func randomRows(_ count: Int, seed: UInt64) -> (bits: [UInt16], widened: [Float]) {
        var generator = SeededGenerator(seed: seed)
        let bits = (0..<count).map { _ in BFloat16.nearest(to: Float(generator.nextNormal())) }
        return (bits, bits.map(BFloat16.widen))
    }

    /// A gradient of `rows` (local rows, in this order) with `values` (dimension each).
    static func gradient(_ backend: any ComputeBackend, dimension: Int, rows: [Int32], values: [Float]) -> SparseRowGradient {
        let gradient = SparseRowGradient(backend: backend, dimension: dimension, capacity: rows.count)
        gradient.begin(contributions: rows.count)
        gradient.rowIDs.slice(0, rows.count).copy(from: rows)
        gradient.values.slice(0, values.count).copy(from: values)
        gradient.rowCount = rows.count
        return gradient
    }

    @Test(arguments: TestBackends.names)
    func bagsOverBFloat16RowsAreTheWidenedRowsBags(backendName: String) {
        let backend = TestBackends.make(backendName)
        let rows = 7, d = 5
        let stored = Self.randomRows(rows * d, seed: 3)
        let half = backend.makeBuffer(UInt16.self, count: rows * d), full = backend.makeFloats(rows * d)
        half.copy(from: stored.bits)
        full.copy(from: stored.widened)
        let ids = backend.makeIndices(6), offsets = backend.makeIndices(5)
        ids.copy(from: [6, 0, 6, 2, 3, 1])
        offsets.copy(from: [0, 3, 3, 4, 6])
        let bags = EmbeddingBags(ids: ids.whole, offsets: offsets.whole, rows: 4, idCount: 6)
        for pooling in [Pooling.sum, .mean] {
            let a = backend.makeFloats(4 * 6), b = backend.makeFloats(4 * 6)
            backend.embeddingBags(bags, table: half.whole, dimension: d, output: a.whole, outputStride: 6, pooling: pooling)
            backend.embeddingBags(bags, table: full.whole, dimension: d, output: b.whole, outputStride: 6, pooling: pooling)
            #expect(a.toArray() == b.toArray(), "\(pooling)")
            #expect(a.toArray()[6..<11].allSatisfy { $0 == 0 }, "an empty bag pools to zero")
        }
        // Width-1 tables (the wide part): the first column as a table of its own.
        let scalars = backend.makeBuffer(UInt16.self, count: rows), scalarsFull = backend.makeFloats(rows)
        scalars.copy(from: Array(stored.bits.prefix(rows)))
        scalarsFull.copy(from: Array(stored.widened.prefix(rows)))
        let x = backend.makeFloats(4), y = backend.makeFloats(4)
        x.copy(from: [1, 2, 3, 4])
        y.copy(from: [1, 2, 3, 4])
        backend.embeddingBagsAddingScalars(bags, table: scalars.whole, output: x.whole)
        backend.embeddingBagsAddingScalars(bags, table: scalarsFull.whole, output: y.whole)
        #expect(x.toArray() == y.toArray())

        // Rows served to other ranks cross as stored: a shard holding rows 3...6 of table 1.
        let pairs = backend.makeIndices(4), gathered = backend.makeBuffer(UInt16.self, count: 2 * d)
        pairs.copy(from: [1, 6, 1, 3])
        backend.gatherRows([nil, ShardRows(weights: half.slice(3 * d, 4 * d), firstRow: 3)], pairs: pairs.whole, count: 2,
                           dimension: d, into: gathered.whole)
        #expect(gathered.toArray() == Array(stored.bits[(6 * d)..<(7 * d)] + stored.bits[(3 * d)..<(4 * d)]))
    }

    /// 1.5 - 0.3 ulp lies between two bf16s 2^-7 apart: about 30% of 32768 values round down,
    /// none anywhere else; the same seed gives the same bits whatever order the rows come in,
    /// another seed or another first row (another shard) other bits.
    @Test func stochasticRoundingIsUnbiasedAndDrawnPerRow() {
        let backend = CPUBackend()
        let rows = 4096, d = 8, ulp: Float = 0x1p-7
        let table = backend.makeBuffer(UInt16.self, count: rows * d)
        func run(order: [Int32], seed: UInt64, firstRow: Int = 0) -> [UInt16] {
            table.copy(from: Array(repeating: BFloat16.nearest(to: 1.5), count: rows * d))
            let gradient = Self.gradient(backend, dimension: d, rows: order,
                                         values: Array(repeating: 0.3 * ulp, count: rows * d))
            backend.sparseSGD(gradient, table: table.whole, learningRate: 1,
                              rounding: StochasticRounding(seed: seed, firstRow: firstRow))
            return table.toArray()
        }
        let forward = Array(Int32(0)..<Int32(rows))
        let rounded = run(order: forward, seed: 11)
        let down = BFloat16.nearest(to: 1.5 - ulp), up = BFloat16.nearest(to: 1.5)
        #expect(rounded.allSatisfy { $0 == down || $0 == up })
        let share = Double(rounded.filter { $0 == down }.count) / Double(rounded.count)
        #expect(abs(share - 0.3) < 0.015, "rounded down \(share) of the time, not 0.3")
        #expect(run(order: forward.reversed(), seed: 11) == rounded, "the order rows are updated in changes nothing")
        #expect(run(order: forward, seed: 12) != rounded)
        #expect(run(order: forward, seed: 11, firstRow: 1) != rounded)
    }

    /// Whether `b` is one of the two bf16 neighbours of `f` (or `f` itself, infinite or NaN).
    static func isNeighbour(_ b: UInt16, of f: Float) -> Bool {
        if f.isNaN { return BFloat16.widen(b).isNaN }
        if f.isInfinite { return BFloat16.widen(b) == f }
        let below = UInt16(truncatingIfNeeded: f.bitPattern >> 16)
        return b == below || b == below &+ 1
    }

    /// Every optimizer: the bf16 row is the fp32 update of the widened row, rounded to one of its
    /// two bf16 neighbours (infinity and NaN stay what they are); fp32 state is the fp32
    /// update's exactly, bf16 state one of its neighbours.
    @Test(arguments: TestBackends.names, ["sgd", "adagrad", "adam", "adagrad-bf16-state", "adam-bf16-state"])
    func sparseOptimizersRoundTheFP32Update(backendName: String, algorithm: String) {
        let backend = TestBackends.make(backendName)
        let rows = 40, d = 6
        var stored = Self.randomRows(rows * d, seed: 5)
        stored.bits[2 * d] = 0x7F80  // +infinity
        stored.bits[2 * d + 1] = 0x7FC0  // NaN
        stored.widened = stored.bits.map(BFloat16.widen)
        let half = backend.makeBuffer(UInt16.self, count: rows * d), full = backend.makeFloats(rows * d)
        half.copy(from: stored.bits)
        full.copy(from: stored.widened)
        let touched: [Int32] = [9, 2, 31, 0, 17, 39]
        var random = TestRandom(seed: 8)
        let values = (0..<(touched.count * d)).map { _ in Float(random.generator.nextNormal() * 0.05) }
        let g = Self.gradient(backend, dimension: d, rows: touched, values: values)
        let rounding = StochasticRounding(runSeed: 1, step: 3, table: "embeddings/table0", firstRow: 0)
        // The fp32 reference's state, and the bf16 table's (fp32 or bf16), from the same bf16-exact values.
        let initial = (0..<(rows * d)).map { BFloat16.widen(BFloat16.nearest(to: Float($0 % 7) * 0.013 + 0.001)) }
        let statePrecision: TablePrecision = algorithm.hasSuffix("bf16-state") ? .bf16 : .fp32
        let reference = (0..<2).map { _ in backend.makeFloats(rows * d) }
        let states = (0..<2).map { _ in StoredValues(backend: backend, count: rows * d, precision: statePrecision) }
        for state in reference { state.copy(from: initial) }
        for state in states { initial.withUnsafeBufferPointer { state.write($0, at: 0) } }
        let step = AdamStep(learningRate: 0.1, step: 3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8)
        switch algorithm.prefix(while: { $0 != "-" }) {
        case "sgd":
            backend.sparseSGD(g, table: full.whole, learningRate: 0.1)
            backend.sparseSGD(g, table: half.whole, learningRate: 0.1, rounding: rounding)
        case "adagrad":
            backend.sparseAdagrad(g, table: full.whole, rowSums: reference[0].whole, learningRate: 0.1, epsilon: 1e-10)
            backend.sparseAdagrad(g, table: half.whole, rowSums: states[0], learningRate: 0.1, epsilon: 1e-10, rounding: rounding)
        default:
            backend.sparseAdam(g, table: full.whole, first: reference[0].whole, second: reference[1].whole, step: step)
            backend.sparseAdam(g, table: half.whole, first: states[0], second: states[1], step: step, rounding: rounding)
        }
        for (which, state) in states.enumerated() {
            let exact = reference[which].toArray()
            switch state {
            case .fp32(let values):
                #expect(values.toArray() == exact, "state \(which)")
            case .bf16(let values):
                let bits = values.toArray()
                #expect(zip(bits, exact).allSatisfy { Self.isNeighbour($0, of: $1) }, "state \(which) is the fp32 state rounded")
                if algorithm != "sgd" && which == 0 {
                    #expect(zip(bits, initial).contains { BFloat16.widen($0) != $1 }, "the state moved")
                }
            }
        }
        let exact = full.toArray(), rounded = half.toArray()
        var changed = 0
        for (i, (f, b)) in zip(exact, rounded).enumerated() {
            if !touched.contains(Int32(i / d)) {
                #expect(b == stored.bits[i], "untouched value \(i) kept its bits")
            } else {
                #expect(Self.isNeighbour(b, of: f), "value \(i): \(BFloat16.widen(b)) is no bf16 neighbour of \(f)")
                if b != stored.bits[i] { changed += 1 }
            }
        }
        #expect(changed > touched.count * d / 2, "the update moved the rows")
    }
}
