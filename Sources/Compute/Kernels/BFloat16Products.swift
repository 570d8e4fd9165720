/// The rank's bf16 matrix products: each cut over its threads into blocks of C's rows
/// (`ProductBlock`), each block one single-threaded oneDNN matmul of its thread's own (oneDNN
/// keeps a primitive cache, scratch and memory objects per instance).
final class BFloat16Products: @unchecked Sendable {
    /// The rows a block of a product starts on a multiple of: oneDNN's bf16 kernels sum an edge
    /// tile of rows in another order, and 16 rows keep the whole's tiles (tested).
    static let rowAlignment = 16
    /// One matmul per thread part; grown on the caller's thread before a product is cut.
    private var matmuls: [OneDNNMatmul] = []
    /// Where the rounding of operands inside products is timed, when profiled.
    var packingProfile: OperationProfile? {
        didSet { for matmul in matmuls { matmul.packingProfile = packingProfile } }
    }

    /// Runs `body(matmul, block)` for every block of the product, each with its thread's matmul.
    private func forEachBlock(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, lda: Int, ldb: Int, ldc: Int,
                              _ body: (OneDNNMatmul, ProductBlock) -> Void) {
        let parts = ProductBlock.parts(m: m, n: n, k: k)
        while matmuls.count < parts {
            let matmul = OneDNNMatmul(roundsToBFloat16: true)
            matmul.packingProfile = packingProfile
            matmuls.append(matmul)
        }
        let matmuls = matmuls
        ProductBlock.forEach(transposeA: transposeA, m: m, n: n, k: k, lda: lda, ldc: ldc, alignment: Self.rowAlignment) { block in
            body(matmuls[block.part], block)
        }
    }

    /// `C = alpha op(A) op(B) + beta C` over fp32 operands, each block rounding its own.
    func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
              a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
              beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        forEachBlock(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, lda: lda, ldb: ldb, ldc: ldc) { matmul, block in
            matmul.gemm(transposeA: transposeA, transposeB: transposeB, m: block.m, n: block.n, k: k, alpha: alpha,
                        a: a + block.aOffset, lda: lda, b: b, ldb: ldb, beta: beta, c: c + block.cOffset, ldc: ldc)
        }
    }

    /// The same over operands rounded to bf16 already.
    func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
              roundedA a: UnsafePointer<UInt16>, lda: Int, roundedB b: UnsafePointer<UInt16>, ldb: Int,
              beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if BFloat16VectorProducts.takes(m: m, n: n, k: k) {
            BFloat16VectorProducts.gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                                        b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            return
        }
        forEachBlock(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, lda: lda, ldb: ldb, ldc: ldc) { matmul, block in
            matmul.gemm(transposeA: transposeA, transposeB: transposeB, m: block.m, n: block.n, k: k, alpha: alpha,
                        roundedA: a + block.aOffset, lda: lda, roundedB: b, ldb: ldb, beta: beta,
                        c: c + block.cOffset, ldc: ldc)
        }
    }
}
