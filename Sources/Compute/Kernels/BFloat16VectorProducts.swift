/// bf16 products with a dimension of 1 — a layer with one output (the logit), its input
/// gradient (an outer product) and its weight gradient (a row vector times a matrix) — which
/// oneDNN's matmul runs at a few GFLOP/s: summed here directly in fp32, on the caller's thread,
/// each element of C in a fixed order (so the bits do not depend on the rank's thread count).
enum BFloat16VectorProducts {
    /// Whether `gemm` takes a product of this shape.
    static func takes(m: Int, n: Int, k: Int) -> Bool { m == 1 || n == 1 || k == 1 }

    /// `C = alpha op(A) op(B) + beta C` over bf16 operands, one of m, n, k being 1.
    static func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                     a: UnsafePointer<UInt16>, lda: Int, b: UnsafePointer<UInt16>, ldb: Int,
                     beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        @inline(__always) func opA(_ i: Int, _ p: Int) -> Float { BFloat16.widen(transposeA ? a[p &* lda &+ i] : a[i &* lda &+ p]) }
        @inline(__always) func opB(_ p: Int, _ j: Int) -> Float { BFloat16.widen(transposeB ? b[j &* ldb &+ p] : b[p &* ldb &+ j]) }
        @inline(__always) func write(_ i: Int, _ j: Int, _ sum: Float) {
            let target = c + (i &* ldc &+ j)
            target.pointee = beta == 0 ? alpha * sum : alpha * sum + beta * target.pointee
        }
        if k == 1 {
            // An outer product: one multiplication per element.
            withUnsafeTemporaryAllocation(of: Float.self, capacity: n) { scratch in
                let column = scratch.baseAddress!
                for j in 0..<n { column[j] = opB(0, j) }
                for i in 0..<m {
                    let x = opA(i, 0), row = c + i &* ldc
                    if beta == 0 {
                        for j in 0..<n { row[j] = alpha * (x * column[j]) }
                    } else {
                        for j in 0..<n { row[j] = alpha * (x * column[j]) + beta * row[j] }
                    }
                }
            }
        } else if m == 1 {
            // A row vector times op(B): op(B)'s rows added in order of p, scaled by A's elements.
            withUnsafeTemporaryAllocation(of: Float.self, capacity: n) { scratch in
                let sums = scratch.baseAddress!
                sums.initialize(repeating: 0, count: n)
                for p in 0..<k {
                    let x = opA(0, p)
                    if transposeB {
                        for j in 0..<n { sums[j] += x * opB(p, j) }
                    } else {
                        let row = b + p &* ldb
                        for j in 0..<n { sums[j] += x * BFloat16.widen(row[j]) }
                    }
                }
                for j in 0..<n { write(0, j, sums[j]) }
            }
        } else if !transposeA && (transposeB || ldb == 1) {
            // op(A)'s rows and the column vector both contiguous: 8 partial sums over p.
            for i in 0..<m {
                let row = a + i &* lda
                var partial = SIMD8<Float>(repeating: 0)
                var p = 0
                while p &+ 8 <= k {
                    partial += widen(row + p) * widen(b + p)
                    p &+= 8
                }
                var sum = partial.sum()
                while p < k {
                    sum += BFloat16.widen(row[p]) * BFloat16.widen(b[p])
                    p &+= 1
                }
                write(i, 0, sum)
            }
        } else {
            // op(A) times a column vector, strided: each row's sum in order of p.
            for i in 0..<m {
                var sum: Float = 0
                for p in 0..<k { sum += opA(i, p) * opB(p, 0) }
                write(i, 0, sum)
            }
        }
    }

    /// Eight bf16s from `source`, widened.
    @inline(__always)
    private static func widen(_ source: UnsafePointer<UInt16>) -> SIMD8<Float> {
        let bits = UnsafeRawPointer(source).loadUnaligned(as: SIMD8<UInt16>.self)
        return unsafeBitCast(SIMD8<UInt32>(truncatingIfNeeded: bits) &<< 16, to: SIMD8<Float>.self)
    }
}
