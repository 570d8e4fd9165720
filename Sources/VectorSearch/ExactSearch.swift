import Compute

/// Exact top-K by inner product: queries scored against every item, a block of queries at a
/// time with one matrix product, each query's best K kept in a heap. What an index is measured
/// against, and a retriever's evaluation over its catalogue.
public enum ExactSearch {
    /// The best `k` of `items` (rows of `dimension`, named by `labels`) for each query (rows of
    /// `dimension`), best first (ties to the smaller label); `excluded(q)` lists labels query q
    /// must not get (a user's training items). Fewer than k where fewer items are left. Scores
    /// are made in tiles of `blockRows` queries by `itemChunk` items, small enough to be read
    /// back from cache.
    public static func topK(queries: [Float], items: [Float], labels: [Int32], dimension: Int, k: Int, blockRows: Int = 64,
                            itemChunk: Int = 8192, excluded: (Int) -> [Int32] = { _ in [] }) -> [[(score: Float, item: Int32)]] {
        let queryCount = queries.count / dimension, itemCount = labels.count
        precondition(items.count == itemCount * dimension, "ExactSearch: \(items.count) values for \(itemCount) items")
        var result = [[(score: Float, item: Int32)]](repeating: [], count: queryCount)
        guard itemCount > 0 else { return result }
        let column = Dictionary(labels.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        let chunk = min(itemChunk, itemCount)
        var tile = [Float](repeating: 0, count: blockRows * chunk)
        for first in stride(from: 0, to: queryCount, by: blockRows) {
            let rows = min(blockRows, queryCount - first)
            var best = (0..<rows).map { _ in TopK(k: k) }
            // Each query's excluded items, as columns.
            let excludedColumns = (0..<rows).map { r in Set(excluded(first + r).compactMap { column[$0] }) }
            for start in stride(from: 0, to: itemCount, by: chunk) {
                let columns = min(chunk, itemCount - start)
                queries.withUnsafeBufferPointer { q in
                    items.withUnsafeBufferPointer { v in
                        tile.withUnsafeMutableBufferPointer { c in
                            BLAS.gemm(transposeA: false, transposeB: true, m: rows, n: columns, k: dimension, alpha: 1,
                                      a: q.baseAddress! + first * dimension, lda: dimension, b: v.baseAddress! + start * dimension,
                                      ldb: dimension, beta: 0, c: c.baseAddress!, ldc: columns)
                        }
                    }
                }
                tile.withUnsafeBufferPointer { scores in
                    for r in 0..<rows {
                        var threshold = best[r].threshold
                        for c in 0..<columns {
                            let score = scores[r * columns + c]
                            // Most items fall below the k-th best so far: one comparison each.
                            guard score >= threshold else { continue }
                            if !excludedColumns[r].isEmpty && excludedColumns[r].contains(start + c) { continue }
                            best[r].offer(score, labels[start + c])
                            threshold = best[r].threshold
                        }
                    }
                }
            }
            for r in 0..<rows { result[first + r] = best[r].sorted() }
        }
        return result
    }
}
