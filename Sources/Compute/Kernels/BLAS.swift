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
        ProductBlock.forEach(transposeA: transposeA, m: m, n: n, k: k, lda: lda, ldc: ldc, alignment: rowAlignment) { block in
            singleThreaded(transposeA, transposeB, block.m, block.n, k, alpha, a + block.aOffset, lda, b, ldb, beta,
                           c + block.cOffset, ldc)
        }
    }

    /// The rows a block of a product starts on a multiple of (`ProductBlock`): OpenBLAS's kernels
    /// for the CPU it runs on sum an edge tile of rows in another order. Measured: 12 rows on its
    /// AVX2 kernels (cores "Haswell" and "Zen"; 4, 8 and 16 change bits there); 48 on the others
    /// (a multiple of 12 and of the 16 that its AVX-512 kernels keep).
    static let rowAlignment: Int = {
        let core = String(cString: openblas_get_corename()).lowercased()
        return ["haswell", "zen"].contains(core) ? 12 : 48
    }()

    /// OpenBLAS on one thread, set before its first product in any process (`evaluate`, `export`
    /// and the tests as well as `train` and `bench`): its own threads would sum a product in
    /// another order on some CPUs (AVX2 ones here: `evaluate` scored 1e-7 off training's AUC) and
    /// spin beside the ranks.
    private static let openBLASOnOneThread: Void = openblas_set_num_threads(1)

    private static func singleThreaded(_ transposeA: Bool, _ transposeB: Bool, _ m: Int, _ n: Int, _ k: Int,
                                       _ alpha: Float, _ a: UnsafePointer<Float>, _ lda: Int,
                                       _ b: UnsafePointer<Float>, _ ldb: Int, _ beta: Float,
                                       _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        _ = openBLASOnOneThread
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
        _ = openBLASOnOneThread
        RowThreads.setCount(count)
    }
}
