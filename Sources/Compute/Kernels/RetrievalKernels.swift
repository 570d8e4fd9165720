import CIntrinsics
import Foundation

/// Kernels of a two-tower retriever: the towers' outputs put on the unit sphere, and the
/// in-batch softmax over a batch's items (with their backward).
extension Kernels {
    /// `y[r] = x[r] / n[r]`, `n[r] = max(‖x[r]‖, 1e-12)` (the clamp keeps a zero row finite).
    @inlinable
    public static func normalizeRows(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, norms: UnsafeMutablePointer<Float>,
                                     rows: Int, columns: Int) {
        for r in 0..<rows {
            let xr = x + r &* columns, yr = y + r &* columns
            let norm = max(dot(xr, xr, count: columns).squareRoot(), 1e-12)
            norms[r] = norm
            let scale = 1 / norm
            for c in 0..<columns { yr[c] = xr[c] * scale }
        }
    }

    /// `dx[r] = (dy[r] - y[r] (y[r] · dy[r])) / n[r]`: the gradient through `normalizeRows`
    /// (the part of dy along the output removed, since the norm cannot change).
    @inlinable
    public static func normalizeRowsBackward(output y: UnsafePointer<Float>, norms: UnsafePointer<Float>,
                                             outputGradient dy: UnsafePointer<Float>, into dx: UnsafeMutablePointer<Float>,
                                             rows: Int, columns: Int) {
        for r in 0..<rows {
            let yr = y + r &* columns, dyr = dy + r &* columns, dxr = dx + r &* columns
            let along = dot(yr, dyr, count: columns), scale = 1 / norms[r]
            for c in 0..<columns { dxr[c] = (dyr[c] - yr[c] * along) * scale }
        }
    }

    /// Row r's softmax cross-entropy against column `firstTarget + r`, its logits lowered by
    /// `corrections` and its accidental hits (another column of the target's key) left out;
    /// the row is overwritten by `gradientScale (softmax - onehot)`. Returns the summed loss
    /// (in Double: a sum over the rows of a large batch). Eight columns at a time, the
    /// exponentials by `recsys_exp_shifted_sum`'s polynomial.
    @inlinable
    public static func sampledSoftmaxCrossEntropy(_ logits: UnsafeMutablePointer<Float>, rows: Int, columns: Int,
                                                  corrections: UnsafePointer<Float>, keys: UnsafePointer<Int32>, firstTarget: Int,
                                                  gradientScale: Float) -> Double {
        typealias V = SIMD8<Float>
        let vectorColumns = columns & ~7
        var total = 0.0
        for r in 0..<rows {
            let row = logits + r &* columns, target = firstTarget + r, targetKey = keys[target]
            let targetLogit = row[target] - corrections[target]
            // Corrected logits, the target's key's other columns at -inf; the row's largest.
            var largestLanes = V(repeating: -.infinity)
            let sameKey = SIMD8<Int32>(repeating: targetKey)
            var c = 0
            while c < vectorColumns {
                let keyLanes = UnsafeRawPointer(keys + c).loadUnaligned(as: SIMD8<Int32>.self)
                var z = UnsafeRawPointer(row + c).loadUnaligned(as: V.self) - UnsafeRawPointer(corrections + c).loadUnaligned(as: V.self)
                z.replace(with: -.infinity, where: keyLanes .== sameKey)
                UnsafeMutableRawPointer(row + c).storeBytes(of: z, as: V.self)
                largestLanes = pointwiseMax(largestLanes, z)
                c &+= 8
            }
            var largest = largestLanes.max()
            while c < columns {
                row[c] = keys[c] == targetKey ? -.infinity : row[c] - corrections[c]
                largest = max(largest, row[c])
                c &+= 1
            }
            row[target] = targetLogit
            largest = max(largest, targetLogit)
            // Exponentials and their sum.
            let sum = recsys_exp_shifted_sum(row, columns, largest)
            total += Double(Foundation.log(sum)) + Double(largest) - Double(targetLogit)
            let scale = gradientScale / sum
            for c in 0..<columns { row[c] *= scale }
            row[target] -= gradientScale
        }
        return total
    }

}
