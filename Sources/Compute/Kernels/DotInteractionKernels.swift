/// DLRM's dot interaction over host memory.
///
/// Input Z is (B, F, D); output is (B, [D +] F(F-1)/2): with `passesFirstSlot`, Z[:, 0, :]
/// first, then the dots <Z_i, Z_j> for i > j ordered by i then j (the strictly lower triangle,
/// as the DLRM reference orders it).
enum DotInteractionKernels {
    /// Z (B, F, D) -> (B, D + pairs).
    ///
    /// Per sample, Z is transposed into a (D, P) scratch (P = F rounded up to 8, padding zero),
    /// so the dots of row i with rows j < i come 8 at a time: acc[j] += Z[i, k] * Zt[k, j].
    static func forward(_ shape: InteractionShape, input: UnsafeMutablePointer<Float>, output: UnsafeMutablePointer<Float>, rows: Int) {
        let d = shape.dimension, f = shape.featureCount, inWidth = shape.inputWidth, outWidth = shape.outputWidth
        let passesFirstSlot = shape.passesFirstSlot, pairsOffset = shape.pairsOffset
        let padded = (f + 7) & ~7
        withUnsafeTemporaryAllocation(of: Float.self, capacity: d * padded) { scratch in
            let zt = scratch.baseAddress!
            zt.initialize(repeating: 0, count: d * padded)
            let raw = UnsafeRawPointer(zt)
            for b in 0..<rows {
                let z = input + b &* inWidth
                let out = output + b &* outWidth
                for j in 0..<f {
                    for k in 0..<d { zt[k &* padded &+ j] = z[j &* d &+ k] }
                }
                if passesFirstSlot { out.update(from: z, count: d) }
                for i in 1..<max(f, 1) {
                    let zi = z + i &* d
                    let below = pairsOffset &+ (i &* (i &- 1)) / 2
                    var block = 0
                    while block < i {
                        var accumulator = SIMD8<Float>(repeating: 0)
                        for k in 0..<d {
                            accumulator += zi[k] * raw.loadUnaligned(fromByteOffset: (k &* padded &+ block) &* 4,
                                                                     as: SIMD8<Float>.self)
                        }
                        if block &+ 8 <= i {
                            UnsafeMutableRawPointer(out + (below &+ block)).storeBytes(of: accumulator, as: SIMD8<Float>.self)
                        } else {
                            for lane in 0..<(i &- block) { out[below &+ block &+ lane] = accumulator[lane] }
                        }
                        block &+= 8
                    }
                }
            }
        }
    }

    /// dL/dZ (B, F, D) from dL/d(output) (B, D + pairs); overwrites `inputGradient`.
    ///
    /// With G the symmetric (F, F) matrix of pair gradients (zero diagonal), dZ = G Z, plus the
    /// pass-through gradient in slot 0. Each dZ_i is accumulated in registers, 8 lanes at a
    /// time, over all j: one store per output vector instead of one per pair.
    static func backward(_ shape: InteractionShape, input: UnsafeMutablePointer<Float>, outputGradient: UnsafeMutablePointer<Float>,
                         inputGradient: UnsafeMutablePointer<Float>, rows: Int) {
        let d = shape.dimension, f = shape.featureCount, inWidth = shape.inputWidth, outWidth = shape.outputWidth
        let vectorWidth = d & ~7, offset = shape.pairsOffset, passes = shape.passesFirstSlot
        for b in 0..<rows {
            let z = UnsafeRawPointer(input + b &* inWidth)
            let g = outputGradient + b &* outWidth
            let dz = inputGradient + b &* inWidth
            for i in 0..<f {
                // Pairs (i, j < i) sit contiguously from `below`; pairs (j > i, i) at `above`,
                // which advances by j for each next j.
                let below = offset &+ (i &* (i &- 1)) / 2
                let firstAbove = offset &+ ((i &+ 1) &* i) / 2 &+ i
                let out = UnsafeMutableRawPointer(dz + i &* d)
                var lane = 0
                while lane < vectorWidth {
                    let byteOffset = lane &* 4
                    var accumulator = i == 0 && passes
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
                    var accumulator: Float = i == 0 && passes ? g[lane] : 0
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
