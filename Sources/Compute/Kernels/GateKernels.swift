import Foundation

/// Kernels of a mixture of experts' gates: a softmax over each sample's expert logits, and the
/// weighted sum of the experts' outputs (with their backward).
extension Kernels {
    /// Softmax of each row of a row-major `rows x columns` matrix, in place, with the row's
    /// maximum subtracted first so that no exponential overflows.
    @inlinable
    public static func softmaxRows(_ x: UnsafeMutablePointer<Float>, rows: Int, columns: Int) {
        for r in 0..<rows {
            let row = x + r &* columns
            var largest = -Float.infinity
            for c in 0..<columns { largest = max(largest, row[c]) }
            var total: Float = 0
            for c in 0..<columns {
                row[c] = Foundation.exp(row[c] - largest)
                total += row[c]
            }
            let scale = 1 / total
            for c in 0..<columns { row[c] *= scale }
        }
    }

    /// Softmax backward in place: `g[r, c] = p[r, c] (g[r, c] - Σ_c' p[r, c'] g[r, c'])`.
    @inlinable
    public static func softmaxRowsBackward(probabilities p: UnsafePointer<Float>, gradient g: UnsafeMutablePointer<Float>,
                                           rows: Int, columns: Int) {
        for r in 0..<rows {
            let pr = p + r &* columns, gr = g + r &* columns
            var dot: Float = 0
            for c in 0..<columns { dot += pr[c] * gr[c] }
            for c in 0..<columns { gr[c] = pr[c] * (gr[c] - dot) }
        }
    }

    /// `y[r, c] += s[r * scaleStride] * x[r, c]`: one expert's output added with its gate weight.
    @inlinable
    public static func addScaledRows(_ x: UnsafePointer<Float>, scales s: UnsafePointer<Float>, scaleStride: Int,
                                     into y: UnsafeMutablePointer<Float>, rows: Int, columns: Int) {
        for r in 0..<rows {
            let weight = s[r &* scaleStride], xr = x + r &* columns, yr = y + r &* columns
            for c in 0..<columns { yr[c] += weight * xr[c] }
        }
    }

    /// `dots[r * dotStride] = Σ_c a[r, c] b[r, c]`: the gradient of one gate weight per sample.
    @inlinable
    public static func rowDots(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, rows: Int, columns: Int,
                               into dots: UnsafeMutablePointer<Float>, dotStride: Int) {
        for r in 0..<rows {
            dots[r &* dotStride] = dot(a + r &* columns, b + r &* columns, count: columns)
        }
    }
}
