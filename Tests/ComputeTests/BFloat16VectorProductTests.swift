import Compute
import Testing

/// bf16 products with a dimension of 1 (summed directly, not by oneDNN): against the product
/// of the rounded operands in double precision, in every transpose, with strides, alpha and
/// beta (beta 0 ignores what C held, NaN included).
@Suite struct BFloat16VectorProductTests {
    @Test(arguments: [(2048, 1, 256), (300, 256, 1), (1, 256, 2048), (1, 1, 37), (5, 1, 1)],
          [(false, false), (true, false), (false, true), (true, true)])
    func productsWithADimensionOfOneAreTheRoundedOperandsProduct(shape: (m: Int, n: Int, k: Int), transposes: (a: Bool, b: Bool)) {
        let (transposeA, transposeB) = transposes
        guard CPUBackend.bfloat16Implementation != nil else {
            print("skipped: this CPU has no bf16 instructions")
            return
        }
        let backend = CPUBackend(matmulPrecision: .bf16)
        let (m, n, k) = shape
        let lda = (transposeA ? m : k) + 3, ldb = (transposeB ? k : n) + 2, ldc = n + 1
        var generator = SeededGenerator(seed: UInt64(m * 7 + n * 3 + k))
        func rounded(_ count: Int) -> [UInt16] { (0..<count).map { _ in BFloat16.nearest(to: Float(generator.nextNormal())) } }
        let a = rounded((transposeA ? k : m) * lda), b = rounded((transposeB ? n : k) * ldb)
        let c0 = (0..<(m * ldc)).map { _ in Float(generator.nextNormal()) }
        let da = backend.makeBuffer(UInt16.self, count: a.count), db = backend.makeBuffer(UInt16.self, count: b.count)
        da.copy(from: a)
        db.copy(from: b)
        for beta: Float in [0, 0.5] {
            let dc = backend.makeFloats(c0.count)
            dc.copy(from: beta == 0 ? c0.map { _ in Float.nan } : c0)
            backend.gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 2, a: da.whole, lda: lda, b: db.whole,
                         ldb: ldb, beta: beta, c: dc.whole, ldc: ldc)
            let c = dc.toArray()
            var worst = 0.0
            for i in 0..<m {
                for j in 0..<n {
                    var sum = 0.0
                    for p in 0..<k {
                        let x = BFloat16.widen(transposeA ? a[p * lda + i] : a[i * lda + p])
                        let y = BFloat16.widen(transposeB ? b[j * ldb + p] : b[p * ldb + j])
                        sum += Double(x) * Double(y)
                    }
                    let expected = 2 * sum + Double(beta) * Double(c0[i * ldc + j])
                    worst = max(worst, abs(Double(c[i * ldc + j]) - expected) / (1 + abs(expected)))
                }
            }
            #expect(worst < 1e-5, "\(m) x \(n) x \(k), beta \(beta): \(worst)")
        }
    }
}
