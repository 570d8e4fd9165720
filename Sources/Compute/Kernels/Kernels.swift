import CIntrinsics

/// Element-wise and reduction kernels over raw `Float` storage.
///
/// Element-wise loops vectorise on their own; reductions are written with `SIMD8<Float>` and
/// several accumulators because Swift keeps floating-point order strict. Index arithmetic uses
/// wrapping operators (`&+`, `&*`) so the overflow check does not block vectorisation.
public enum Kernels {
    /// `y[r, c] += bias[c]` for a row-major `rows x columns` matrix.
    @inlinable
    public static func addRowBias(_ y: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>,
                                  rows: Int, columns: Int) {
        for r in 0..<rows {
            let row = y + r &* columns
            for c in 0..<columns { row[c] += bias[c] }
        }
    }

    /// `y[r, c] = max(0, y[r, c] + bias[c])`: bias and ReLU fused in one pass.
    @inlinable
    public static func addRowBiasReLU(_ y: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>,
                                      rows: Int, columns: Int) {
        for r in 0..<rows {
            let row = y + r &* columns
            for c in 0..<columns { row[c] = max(0, row[c] + bias[c]) }
        }
    }

    /// ReLU backward in place: `gradient[i] = 0` where `output[i] <= 0`.
    @inlinable
    public static func reluBackward(gradient: UnsafeMutablePointer<Float>, output: UnsafePointer<Float>,
                                    count: Int) {
        for i in 0..<count { gradient[i] = output[i] > 0 ? gradient[i] : 0 }
    }

    /// `sums[c] += sum over r of x[r, c]` (bias gradients).
    @inlinable
    public static func accumulateColumnSums(_ x: UnsafePointer<Float>, rows: Int, columns: Int,
                                            into sums: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            let row = x + r &* columns
            for c in 0..<columns { sums[c] += row[c] }
        }
    }

    /// `y[i] += alpha * x[i]`.
    @inlinable
    public static func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                            count: Int) {
        for i in 0..<count { y[i] += alpha * x[i] }
    }

    /// `y[i] += x[i]`.
    @inlinable
    public static func add(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { y[i] += x[i] }
    }

    /// `y[i] = x[i]` for short vectors (an embedding row), without a `memmove` call.
    @inlinable
    public static func copy(_ x: UnsafePointer<Float>, to y: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { y[i] = x[i] }
    }

    /// Copies `rows` rows of `columns` floats between strided matrices.
    @inlinable
    public static func copyRows(from source: UnsafePointer<Float>, sourceStride: Int,
                                to destination: UnsafeMutablePointer<Float>, destinationStride: Int,
                                rows: Int, columns: Int) {
        for r in 0..<rows {
            (destination + r &* destinationStride).update(from: source + r &* sourceStride, count: columns)
        }
    }

    /// Hints that the cache line at `address` will be read soon (a random embedding row).
    @inlinable
    public static func prefetch<Value>(_ address: UnsafePointer<Value>) { recsys_prefetch(address) }

    /// Hints that the cache line at `address` will be written soon.
    @inlinable
    public static func prefetchForWrite(_ address: UnsafeMutablePointer<Float>) { recsys_prefetch_for_write(address) }

    /// Dot product of two `count`-float vectors (8-wide SIMD, two accumulators).
    @inlinable
    public static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, count: Int) -> Float {
        var i = 0
        var acc0 = SIMD8<Float>(repeating: 0)
        var acc1 = SIMD8<Float>(repeating: 0)
        let rawX = UnsafeRawPointer(x), rawY = UnsafeRawPointer(y)
        while i &+ 16 <= count {
            let x0 = rawX.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
            let y0 = rawY.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
            let x1 = rawX.loadUnaligned(fromByteOffset: (i &+ 8) &* 4, as: SIMD8<Float>.self)
            let y1 = rawY.loadUnaligned(fromByteOffset: (i &+ 8) &* 4, as: SIMD8<Float>.self)
            acc0 = acc0 + x0 * y0
            acc1 = acc1 + x1 * y1
            i &+= 16
        }
        while i &+ 8 <= count {
            let x0 = rawX.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
            let y0 = rawY.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
            acc0 = acc0 + x0 * y0
            i &+= 8
        }
        var total = (acc0 + acc1).sum()
        while i < count { total += x[i] * y[i]; i &+= 1 }
        return total
    }

    /// Whether every one of `count` floats is finite (neither infinite nor NaN). Works on the
    /// bits: adding one to an all-ones exponent carries into the sign position, and an integer
    /// OR over the array vectorises.
    @inlinable
    public static func allFinite(_ x: UnsafePointer<Float>, count: Int) -> Bool {
        let bits = UnsafeRawPointer(x).assumingMemoryBound(to: UInt32.self)
        var carried: UInt32 = 0
        for i in 0..<count { carried |= (bits[i] & 0x7F80_0000) &+ 0x0080_0000 }
        return carried & 0x8000_0000 == 0
    }
}
