import Compute

/// Exact top-K by inner product: queries scored against every item, a block of queries at a
/// time with one matrix product, each query's best K kept in a heap. What an index is measured
/// against, and a retriever's evaluation over its catalogue.
public enum ExactSearch {
    /// The best `k` of `items` (rows of `dimension`, named by `labels`) for each query (rows of
    /// `dimension`), best first (ties to the smaller label); `excluded(q)` lists labels query q
    /// must not get (a user's training items). Fewer than k where fewer items are left.
    public static func topK(queries: [Float], items: [Float], labels: [Int32], dimension: Int, k: Int, blockRows: Int = 256,
                            excluded: (Int) -> [Int32] = { _ in [] }) -> [[(score: Float, item: Int32)]] {
        let queryCount = queries.count / dimension, itemCount = labels.count
        precondition(items.count == itemCount * dimension, "ExactSearch: \(items.count) values for \(itemCount) items")
        var result = [[(score: Float, item: Int32)]](repeating: [], count: queryCount)
        guard itemCount > 0 else { return result }
        let column = Dictionary(labels.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        var block = [Float](repeating: 0, count: min(blockRows, max(queryCount, 1)) * itemCount)
        for first in stride(from: 0, to: queryCount, by: blockRows) {
            let rows = min(blockRows, queryCount - first)
            queries.withUnsafeBufferPointer { q in
                items.withUnsafeBufferPointer { v in
                    block.withUnsafeMutableBufferPointer { c in
                        BLAS.gemm(transposeA: false, transposeB: true, m: rows, n: itemCount, k: dimension, alpha: 1,
                                   a: q.baseAddress! + first * dimension, lda: dimension, b: v.baseAddress!, ldb: dimension, beta: 0,
                                   c: c.baseAddress!, ldc: itemCount)
                    }
                }
            }
            for r in 0..<rows {
                let row = r * itemCount
                for label in excluded(first + r) { if let c = column[label] { block[row + c] = -.infinity } }
                var best = TopK(k: k)
                for c in 0..<itemCount where block[row + c] > -.infinity { best.offer(block[row + c], labels[c]) }
                result[first + r] = best.sorted()
            }
        }
        return result
    }
}
