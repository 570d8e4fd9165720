/// How a matrix product `C = op(A) op(B)` is cut over the rank's threads (`RowThreads`): into
/// blocks of C's rows, one per thread, each a single-threaded call of the library (OpenBLAS for
/// fp32, oneDNN for bf16). Each element of C is still one dot product over k, and the rank's
/// threads are one pool whatever the precision: no library's own workers spin beside the
/// row-parallel kernels.
///
/// A block's rows start on a multiple of the library's `alignment`, so that every block but the
/// last has the whole's register tiles: a library sums an edge tile in another order (tested).
/// Blocks of columns are not cut: both libraries sum a block of C's columns in another order than
/// the whole on some CPUs (OpenBLAS's AVX2 kernels whatever the edge, oneDNN's bf16 ones).
public struct ProductBlock {
    /// The thread's part (0 for the caller's thread).
    public let part: Int
    /// The block's rows and columns of C.
    public let m: Int, n: Int
    /// Where the block's A and C start, in elements from the whole's.
    public let aOffset: Int, cOffset: Int

    /// Blocks narrower than this are not worth a thread. 32, so that a rank-64 product is cut:
    /// DCNv2's cross-layer weight gradient `64x432x2048 Aᵀ` took 5.4 ms a step on 2 threads uncut
    /// (as on one), 3.1 ms in two blocks.
    static let minimumBlock = 32
    /// Nor blocks of fewer multiply-adds than this; and below 100³ OpenBLAS takes its small-matrix
    /// kernels, which sum in another order than its blocked ones: a product is split only into
    /// blocks that stay above, so that the whole and its blocks take the same kernel.
    static let minimumWork = 1 << 21

    /// The parts a product of this shape is cut into on the rank's threads now (1: not cut).
    public static func parts(m: Int, n: Int, k: Int) -> Int {
        let threads = RowThreads.count
        guard threads > 1, m >= 2 * minimumBlock, m * n * k >= 2 * minimumWork else { return 1 }
        return min(threads, m / minimumBlock, m * n * k / minimumWork)
    }

    /// Runs `body` for every block of the product, at once on the rank's threads, the blocks'
    /// first rows multiples of `alignment`.
    public static func forEach(transposeA: Bool, m: Int, n: Int, k: Int, lda: Int, ldc: Int, alignment: Int,
                               _ body: (ProductBlock) -> Void) {
        RowThreads.forEachPart(parts(m: m, n: n, k: k), of: m, alignment: alignment) { part, range in
            // Rows of op(A): rows of A, or its columns when A is stored transposed.
            let start = range.lowerBound
            body(ProductBlock(part: part, m: range.count, n: n, aOffset: transposeA ? start : start * lda, cOffset: start * ldc))
        }
    }
}
