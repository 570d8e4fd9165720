import Compute

/// DLRM's dot interaction.
///
/// Input Z is (B, F, D): slot 0 is the bottom-MLP output, slots 1...T the pooled embeddings.
/// Output is (B, D + F(F-1)/2): Z[:, 0, :] followed by the dots <Z_i, Z_j> for i > j, ordered
/// by i then j (the strictly lower triangle, as the DLRM reference orders it).
public struct DotInteraction: Sendable {
    public let featureCount: Int
    public let dimension: Int

    public init(featureCount: Int, dimension: Int) {
        self.featureCount = featureCount
        self.dimension = dimension
    }

    public var pairCount: Int { featureCount * (featureCount - 1) / 2 }
    public var inputWidth: Int { featureCount * dimension }
    public var outputWidth: Int { dimension + pairCount }

    public func forward(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, rows: Int) {
        let d = dimension, f = featureCount, inWidth = inputWidth, outWidth = outputWidth
        for b in 0..<rows {
            let z = input + b &* inWidth
            let out = output + b &* outWidth
            out.update(from: z, count: d)
            var p = d
            for i in 1..<f {
                let zi = z + i &* d
                for j in 0..<i {
                    out[p] = Kernels.dot(zi, z + j &* d, count: d)
                    p &+= 1
                }
            }
        }
    }

    /// dL/dZ (B, F, D) from dL/d(output) (B, D + pairs); overwrites `inputGradient`.
    public func backward(input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>,
                         inputGradient: UnsafeMutablePointer<Float>, rows: Int) {
        let d = dimension, f = featureCount, inWidth = inputWidth, outWidth = outputWidth
        for b in 0..<rows {
            let z = input + b &* inWidth
            let g = outputGradient + b &* outWidth
            let dz = inputGradient + b &* inWidth
            dz.update(from: g, count: d)
            (dz + d).update(repeating: 0, count: inWidth &- d)
            var p = d
            for i in 1..<f {
                let zi = z + i &* d, dzi = dz + i &* d
                for j in 0..<i {
                    let weight = g[p]
                    Kernels.axpy(weight, z + j &* d, dzi, count: d)
                    Kernels.axpy(weight, zi, dz + j &* d, count: d)
                    p &+= 1
                }
            }
        }
    }
}
