import CBLAS

/// fp32 matrix products on the host through OpenBLAS, and the rank's thread count. The CPU
/// backends' GEMMs come here; the seam where another device plugs in is `ComputeBackend`
/// (`BackendRegistry`, in Backends), not this file.
public enum BLAS {
    /// `C = alpha * op(A) * op(B) + beta * C`, all row-major.
    /// op(A) is m x k, op(B) is k x n, C is m x n; `lda`/`ldb`/`ldc` are row strides.
    ///
    /// With several rank threads the product is cut into blocks (`ProductBlock`), one
    /// single-threaded OpenBLAS call per thread: the bits do not depend on the thread count.
    public static func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                            alpha: Float = 1,
                            a: UnsafePointer<Float>, lda: Int,
                            b: UnsafePointer<Float>, ldb: Int,
                            beta: Float,
                            c: UnsafeMutablePointer<Float>, ldc: Int) {
        ProductBlock.forEach(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, lda: lda, ldb: ldb, ldc: ldc) { block in
            singleThreaded(transposeA, transposeB, block.m, block.n, k, alpha, a + block.aOffset, lda, b + block.bOffset, ldb, beta,
                           c + block.cOffset, ldc)
        }
    }

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

    /// Sets the threads of this rank (`RowThreads`): the row-parallel kernels and the blocks of
    /// every product. OpenBLAS and oneDNN themselves stay on one thread (oneDNN's is set on each
    /// thread that runs a product, `OneDNNMatmul`): their own workers spin between products and
    /// took a core from the row-parallel kernels (2 threads in bf16 ran 1.27 times 1 thread with
    /// oneDNN's OpenMP workers, 1.53 times with them sleeping).
    public static func setThreadCount(_ count: Int) {
        openblas_set_num_threads(1)
        RowThreads.setCount(count)
    }
}
