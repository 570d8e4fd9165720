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
    ///
    /// With G the symmetric (F, F) matrix of pair gradients (zero diagonal), dZ = G Z, plus the
    /// pass-through gradient in slot 0. Each dZ_i is accumulated in registers, 8 lanes at a
    /// time, over all j: one store per output vector instead of one per pair.
    public func backward(input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>,
                         inputGradient: UnsafeMutablePointer<Float>, rows: Int) {
        let d = dimension, f = featureCount, inWidth = inputWidth, outWidth = outputWidth
        let vectorWidth = d & ~7
        for b in 0..<rows {
            let z = UnsafeRawPointer(input + b &* inWidth)
            let g = outputGradient + b &* outWidth
            let dz = inputGradient + b &* inWidth
            for i in 0..<f {
                // Pairs (i, j < i) sit contiguously from `below`; pairs (j > i, i) at `above`,
                // which advances by j for each next j.
                let below = d &+ (i &* (i &- 1)) / 2
                let firstAbove = d &+ ((i &+ 1) &* i) / 2 &+ i
                let out = UnsafeMutableRawPointer(dz + i &* d)
                var lane = 0
                while lane < vectorWidth {
                    let byteOffset = lane &* 4
                    var accumulator = i == 0
                        ? UnsafeRawPointer(g).loadUnaligned(fromByteOffset: byteOffset, as: SIMD8<Float>.self)
                        : SIMD8<Float>(repeating: 0)
                    for j in 0..<i {
                        accumulator += g[below &+ j] * z.loadUnaligned(fromByteOffset: (j &* d &+ lane) &* 4,
                                                                       as: SIMD8<Float>.self)
                    }
                    var above = firstAbove
                    for j in (i &+ 1)..<max(f, i &+ 1) {
                        accumulator += g[above] * z.loadUnaligned(fromByteOffset: (j &* d &+ lane) &* 4,
                                                                  as: SIMD8<Float>.self)
                        above &+= j
                    }
                    out.storeBytes(of: accumulator, toByteOffset: byteOffset, as: SIMD8<Float>.self)
                    lane &+= 8
                }
                let zs = input + b &* inWidth
                while lane < d {
                    var accumulator: Float = i == 0 ? g[lane] : 0
                    for j in 0..<i { accumulator += g[below &+ j] * zs[j &* d &+ lane] }
                    var above = firstAbove
                    for j in (i &+ 1)..<max(f, i &+ 1) {
                        accumulator += g[above] * zs[j &* d &+ lane]
                        above &+= j
                    }
                    dz[i &* d &+ lane] = accumulator
                    lane &+= 1
                }
            }
        }
    }
}
