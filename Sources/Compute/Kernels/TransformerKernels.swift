import Foundation

/// A transformer encoder's two non-GEMM kernels over host memory: layer normalisation and
/// multi-head self-attention with a padding mask (the projections around them are GEMMs).
enum TransformerKernels {
    /// `y = gamma ⊙ (x − mean) / sqrt(var + epsilon) + beta` per row of `width`; keeps each row's
    /// mean and 1/sqrt(var + epsilon) for backward. The variance is the biased one (as PyTorch's).
    static func layerNorm(input: UnsafeMutablePointer<Float>, gamma: UnsafeMutablePointer<Float>, beta: UnsafeMutablePointer<Float>,
                          output: UnsafeMutablePointer<Float>, means: UnsafeMutablePointer<Float>,
                          inverseDeviations: UnsafeMutablePointer<Float>, rows: Int, width: Int, epsilon: Float) {
        for r in 0..<rows {
            let x = input + r &* width, y = output + r &* width
            var sum: Float = 0
            for c in 0..<width { sum += x[c] }
            let mean = sum / Float(width)
            var squares: Float = 0
            for c in 0..<width { let d = x[c] - mean; squares += d * d }
            let inverse = 1 / (squares / Float(width) + epsilon).squareRoot()
            for c in 0..<width { y[c] = gamma[c] * (x[c] - mean) * inverse + beta[c] }
            means[r] = mean
            inverseDeviations[r] = inverse
        }
    }

    /// With x̂ = (x − mean)·inv and g = gamma ⊙ dy: `dx = inv (g − mean(g) − x̂ mean(g ⊙ x̂))`
    /// (overwritten); `dgamma += Σ_rows dy ⊙ x̂`, `dbeta += Σ_rows dy`.
    static func layerNormBackward(input: UnsafeMutablePointer<Float>, gamma: UnsafeMutablePointer<Float>,
                                  means: UnsafeMutablePointer<Float>, inverseDeviations: UnsafeMutablePointer<Float>,
                                  outputGradient: UnsafeMutablePointer<Float>, inputGradient: UnsafeMutablePointer<Float>,
                                  gammaGradient: UnsafeMutablePointer<Float>, betaGradient: UnsafeMutablePointer<Float>,
                                  rows: Int, width: Int) {
        for r in 0..<rows {
            let x = input + r &* width, dy = outputGradient + r &* width, dx = inputGradient + r &* width
            let mean = means[r], inverse = inverseDeviations[r]
            var gradientMean: Float = 0, projection: Float = 0
            for c in 0..<width {
                let normalized = (x[c] - mean) * inverse, g = gamma[c] * dy[c]
                gradientMean += g
                projection += g * normalized
                gammaGradient[c] += dy[c] * normalized
                betaGradient[c] += dy[c]
            }
            gradientMean /= Float(width)
            projection /= Float(width)
            for c in 0..<width {
                let normalized = (x[c] - mean) * inverse
                dx[c] = inverse * (gamma[c] * dy[c] - gradientMean - normalized * projection)
            }
        }
    }

    /// Scaled dot-product attention per (sequence, head): `P = softmax(Q Kᵀ / sqrt(dh))` over the
    /// keys the padding mask lets through, `O = P V`. Q, K, V and O are (sequences·length, width)
    /// with head h in columns h·dh ..< (h+1)·dh; sequence s's valid positions are its last
    /// `lengths[s]` (clamped to 1 ... length), and every query attends to those keys only (masked
    /// probabilities are stored as 0). `probabilities` is (sequences, heads, length, length).
    static func attention(_ shape: AttentionShape, queries: UnsafeMutablePointer<Float>, keys: UnsafeMutablePointer<Float>,
                          values: UnsafeMutablePointer<Float>, lengths: UnsafeMutablePointer<Int32>,
                          probabilities: UnsafeMutablePointer<Float>, output: UnsafeMutablePointer<Float>) {
        let length = shape.length, width = shape.width, dh = shape.headDimension
        let scale = 1 / Float(dh).squareRoot()
        for s in 0..<shape.sequences {
            let first = shape.firstValidPosition(lengths[s])
            let base = s &* length &* width
            for h in 0..<shape.heads {
                let column = h &* dh
                for i in 0..<length {
                    let q = queries + (base &+ i &* width &+ column)
                    let p = probabilities + (((s &* shape.heads &+ h) &* length &+ i) &* length)
                    var largest = -Float.infinity
                    for j in 0..<first { p[j] = 0 }
                    for j in first..<length {
                        let k = keys + (base &+ j &* width &+ column)
                        var dot: Float = 0
                        for c in 0..<dh { dot += q[c] * k[c] }
                        p[j] = dot * scale
                        largest = max(largest, p[j])
                    }
                    var total: Float = 0
                    for j in first..<length { p[j] = expf(p[j] - largest); total += p[j] }
                    let inverse = 1 / total
                    let o = output + (base &+ i &* width &+ column)
                    for c in 0..<dh { o[c] = 0 }
                    for j in first..<length {
                        p[j] *= inverse
                        let v = values + (base &+ j &* width &+ column)
                        for c in 0..<dh { o[c] += p[j] * v[c] }
                    }
                }
            }
        }
    }

    /// Backward of `attention`: dV = Pᵀ dO, dP = dO Vᵀ, dS = P ⊙ (dP − rowsum(P ⊙ dP)),
    /// dQ = dS K / sqrt(dh), dK = dSᵀ Q / sqrt(dh). The three gradients are overwritten.
    static func attentionBackward(_ shape: AttentionShape, queries: UnsafeMutablePointer<Float>, keys: UnsafeMutablePointer<Float>,
                                  values: UnsafeMutablePointer<Float>, lengths: UnsafeMutablePointer<Int32>,
                                  probabilities: UnsafeMutablePointer<Float>, outputGradient: UnsafeMutablePointer<Float>,
                                  queryGradient: UnsafeMutablePointer<Float>, keyGradient: UnsafeMutablePointer<Float>,
                                  valueGradient: UnsafeMutablePointer<Float>) {
        let length = shape.length, width = shape.width, dh = shape.headDimension
        let scale = 1 / Float(dh).squareRoot()
        let total = shape.sequences &* length &* width
        queryGradient.update(repeating: 0, count: total)
        keyGradient.update(repeating: 0, count: total)
        valueGradient.update(repeating: 0, count: total)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: length) { scratch in
            let scoreGradient = scratch.baseAddress!
            for s in 0..<shape.sequences {
                let first = shape.firstValidPosition(lengths[s])
                let base = s &* length &* width
                for h in 0..<shape.heads {
                    let column = h &* dh
                    for i in 0..<length {
                        let p = probabilities + (((s &* shape.heads &+ h) &* length &+ i) &* length)
                        let dO = outputGradient + (base &+ i &* width &+ column)
                        var weighted: Float = 0
                        for j in first..<length {
                            let v = values + (base &+ j &* width &+ column)
                            let dV = valueGradient + (base &+ j &* width &+ column)
                            var dot: Float = 0
                            for c in 0..<dh {
                                dot += dO[c] * v[c]
                                dV[c] += p[j] * dO[c]
                            }
                            scoreGradient[j] = dot
                            weighted += p[j] * dot
                        }
                        let q = queries + (base &+ i &* width &+ column)
                        let dQ = queryGradient + (base &+ i &* width &+ column)
                        for j in first..<length {
                            let dS = p[j] * (scoreGradient[j] - weighted) * scale
                            let k = keys + (base &+ j &* width &+ column)
                            let dK = keyGradient + (base &+ j &* width &+ column)
                            for c in 0..<dh {
                                dQ[c] += dS * k[c]
                                dK[c] += dS * q[c]
                            }
                        }
                    }
                }
            }
        }
    }
}
