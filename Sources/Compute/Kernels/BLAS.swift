import CBLAS

/// fp32 matrix products on the host through OpenBLAS, and the rank's thread count. The CPU
/// backends' GEMMs come here; the seam where another device plugs in is `ComputeBackend`
/// (`BackendRegistry`), not this file.
public enum BLAS {
    /// `C = alpha * op(A) * op(B) + beta * C`, all row-major.
    /// op(A) is m x k, op(B) is k x n, C is m x n; `lda`/`ldb`/`ldc` are row strides.
    ///
    /// With several rank threads (`RowThreads.count`) the product is cut into blocks of C's rows,
    /// or of its columns when C is wider than tall, one single-threaded OpenBLAS call per thread.
    /// Each element of C is still one dot product over k in the order one call takes, so the
    /// bits do not depend on the thread count; and the rank's threads are one pool, so OpenBLAS
    /// workers spinning between products no longer compete with the row-parallel kernels.
    public static func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                            alpha: Float = 1,
                            a: UnsafePointer<Float>, lda: Int,
                            b: UnsafePointer<Float>, ldb: Int,
                            beta: Float,
                            c: UnsafeMutablePointer<Float>, ldc: Int) {
        let threads = RowThreads.count
        if threads > 1, max(m, n) >= 2 * minimumBlock, m * n * k >= 2 * minimumWork {
            let splitRows = m >= n
            let parts = min(threads, (splitRows ? m : n) / minimumBlock, m * n * k / minimumWork)
            RowThreads.forEachPart(parts, of: splitRows ? m : n, alignment: blockAlignment) { range in
                let start = range.lowerBound
                if splitRows {
                    // Rows of op(A): rows of A, or its columns when A is stored transposed.
                    singleThreaded(transposeA, transposeB, range.count, n, k, alpha,
                                   transposeA ? a + start : a + start * lda, lda, b, ldb, beta, c + start * ldc, ldc)
                } else {
                    // Columns of op(B): columns of B, or its rows when B is stored transposed.
                    singleThreaded(transposeA, transposeB, m, range.count, k, alpha, a, lda,
                                   transposeB ? b + start * ldb : b + start, ldb, beta, c + start, ldc)
                }
            }
            return
        }
        singleThreaded(transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    }

    /// Blocks narrower than this are not worth a thread.
    static let minimumBlock = 64
    /// Nor blocks of fewer multiply-adds than this; and below 100³ OpenBLAS takes its small-matrix
    /// kernels, which sum in another order than its blocked ones: a product is split only into
    /// blocks that stay above, so that the whole and its blocks take the same kernel.
    static let minimumWork = 1 << 21
    /// Block edges fall on multiples of OpenBLAS's register tile, so only the last block has an edge.
    static let blockAlignment = 16

    private static func singleThreaded(_ transposeA: Bool, _ transposeB: Bool, _ m: Int, _ n: Int, _ k: Int,
                                       _ alpha: Float, _ a: UnsafePointer<Float>, _ lda: Int,
                                       _ b: UnsafePointer<Float>, _ ldb: Int, _ beta: Float,
                                       _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        cblas_sgemm(CblasRowMajor,
                    transposeA ? CblasTrans : CblasNoTrans,
                    transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb),
                    beta, c, Int32(ldc))
    }

    /// Sets the threads of this rank: the row-parallel kernels and fp32 products (`RowThreads`)
    /// and oneDNN's (bf16 products). OpenBLAS itself stays on one thread; `gemm` splits the work.
    public static func setThreadCount(_ count: Int) {
        openblas_set_num_threads(1)
        OneDNNMatmul.setThreadCount(count)
        RowThreads.setCount(count)
    }
}
