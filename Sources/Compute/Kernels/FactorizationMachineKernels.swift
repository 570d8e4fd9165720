/// DeepFM's second-order term over host memory, in the O(F·D) form of Rendle's factorisation
/// machine: ½ Σ_k((Σ_f v_fk)² − Σ_f v_fk²) equals the sum over pairs f < g of <v_f, v_g>.
enum FactorizationMachineKernels {
    /// `output[b] += ½ Σ_k (s_k² − q_k)`, with s_k = Σ_f v_fk and q_k = Σ_f v_fk² of row b.
    static func forward(input: UnsafeMutablePointer<Float>, rowStride: Int, fields: Int, dimension: Int, rows: Int,
                        output: UnsafeMutablePointer<Float>) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * dimension) { scratch in
            let sums = scratch.baseAddress!, squares = sums + dimension
            for b in 0..<rows {
                let v = input + b &* rowStride
                sums.update(repeating: 0, count: 2 * dimension)
                for f in 0..<fields {
                    let row = v + f &* dimension
                    for k in 0..<dimension {
                        sums[k] += row[k]
                        squares[k] += row[k] * row[k]
                    }
                }
                var total: Float = 0
                for k in 0..<dimension { total += sums[k] * sums[k] - squares[k] }
                output[b] += 0.5 * total
            }
        }
    }

    /// `inputGradient[b, f, k] += outputGradient[b] (s_k − v_fk)`.
    static func backward(input: UnsafeMutablePointer<Float>, rowStride: Int, fields: Int, dimension: Int, rows: Int,
                         outputGradient: UnsafeMutablePointer<Float>, inputGradient: UnsafeMutablePointer<Float>) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: dimension) { scratch in
            let sums = scratch.baseAddress!
            for b in 0..<rows {
                let v = input + b &* rowStride, dv = inputGradient + b &* rowStride, g = outputGradient[b]
                sums.update(repeating: 0, count: dimension)
                for f in 0..<fields {
                    for k in 0..<dimension { sums[k] += v[f &* dimension &+ k] }
                }
                for f in 0..<fields {
                    let offset = f &* dimension
                    for k in 0..<dimension { dv[offset &+ k] += g * (sums[k] - v[offset &+ k]) }
                }
            }
        }
    }
}
