/// How a matrix product `C = op(A) op(B)` is cut over the rank's threads (`RowThreads`): into
/// blocks of C's rows, or (`columnsToo`) of its columns when C is wider than tall, one per
/// thread, each a single-threaded call of the library (OpenBLAS for fp32, oneDNN for bf16). Each
/// element of C is still one dot product over k, and the rank's threads are one pool whatever
/// the precision: no library's own workers spin beside the row-parallel kernels. oneDNN's bf16
/// kernels sum a block of C's columns in another order than the whole (tested): bf16 products
/// are cut by rows only, which keeps their bits whatever the thread count.
public struct ProductBlock {
    /// The thread's part (0 for the caller's thread).
    public let part: Int
    /// The block's rows and columns of C.
    public let m: Int, n: Int
    /// Where the block's A, B and C start, in elements from the whole's.
    public let aOffset: Int, bOffset: Int, cOffset: Int

    /// Blocks narrower than this are not worth a thread.
    static let minimumBlock = 64
    /// Nor blocks of fewer multiply-adds than this; and below 100³ OpenBLAS takes its small-matrix
    /// kernels, which sum in another order than its blocked ones: a product is split only into
    /// blocks that stay above, so that the whole and its blocks take the same kernel.
    static let minimumWork = 1 << 21
    /// Block edges fall on multiples of OpenBLAS's register tile, so only the last block has an edge.
    static let alignment = 16

    /// The parts a product of this shape is cut into on the rank's threads now (1: not cut).
    public static func parts(m: Int, n: Int, k: Int, columnsToo: Bool = true) -> Int {
        let threads = RowThreads.count, edge = columnsToo ? max(m, n) : m
        guard threads > 1, edge >= 2 * minimumBlock, m * n * k >= 2 * minimumWork else { return 1 }
        return min(threads, edge / minimumBlock, m * n * k / minimumWork)
    }

    /// Runs `body` for every block of the product, at once on the rank's threads.
    public static func forEach(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, lda: Int, ldb: Int, ldc: Int,
                               columnsToo: Bool = true, _ body: (ProductBlock) -> Void) {
        let parts = parts(m: m, n: n, k: k, columnsToo: columnsToo)
        guard parts > 1 else {
            body(ProductBlock(part: 0, m: m, n: n, aOffset: 0, bOffset: 0, cOffset: 0))
            return
        }
        let splitsRows = m >= n || !columnsToo
        RowThreads.forEachPart(parts, of: splitsRows ? m : n, alignment: alignment) { part, range in
            let start = range.lowerBound
            if splitsRows {
                // Rows of op(A): rows of A, or its columns when A is stored transposed.
                body(ProductBlock(part: part, m: range.count, n: n, aOffset: transposeA ? start : start * lda, bOffset: 0,
                                  cOffset: start * ldc))
            } else {
                // Columns of op(B): columns of B, or its rows when B is stored transposed.
                body(ProductBlock(part: part, m: m, n: range.count, aOffset: 0, bOffset: transposeB ? start * ldb : start,
                                  cOffset: start))
            }
        }
    }
}
