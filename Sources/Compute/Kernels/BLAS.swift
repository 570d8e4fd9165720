import CBLAS

/// Matrix products and thread control through OpenBLAS. Every GEMM in recsys-dist goes here:
/// this file is the seam where another backend (cuBLAS) plugs in.
public enum BLAS {
    /// `C = alpha * op(A) * op(B) + beta * C`, all row-major.
    /// op(A) is m x k, op(B) is k x n, C is m x n; `lda`/`ldb`/`ldc` are row strides.
    @inlinable
    public static func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                            alpha: Float = 1,
                            a: UnsafePointer<Float>, lda: Int,
                            b: UnsafePointer<Float>, ldb: Int,
                            beta: Float,
                            c: UnsafeMutablePointer<Float>, ldc: Int) {
        cblas_sgemm(CblasRowMajor,
                    transposeA ? CblasTrans : CblasNoTrans,
                    transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb),
                    beta, c, Int32(ldc))
    }

    /// Sets the number of threads OpenBLAS (and oneDNN, for bf16 products) use in this process,
    /// and the row-parallel kernels (`RowThreads`).
    public static func setThreadCount(_ count: Int) {
        openblas_set_num_threads(Int32(count))
        OneDNNMatmul.setThreadCount(count)
        RowThreads.setCount(count)
    }

}
