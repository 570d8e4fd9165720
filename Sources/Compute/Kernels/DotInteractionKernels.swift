/// DLRM's dot interaction over host memory.
///
/// Input Z is (B, F, D); output is (B, [D +] F(F-1)/2): with `passesFirstSlot`, Z[:, 0, :]
/// first, then the dots <Z_i, Z_j> for i > j ordered by i then j (the strictly lower triangle,
/// as the DLRM reference orders it).
///
/// Both directions keep the order of their sums (over the dimension forward, over the other
/// features backward) and block only across independent sums: two features at a time share
/// every load, and several 8-lane accumulators are in flight at once, so the adds do not wait on
/// each other's latency. The results are the bits of the plain loops.
enum DotInteractionKernels {
    typealias Vector = SIMD8<Float>

    /// Stores the first `count` (at most 8, possibly none) lanes of `value` at `destination`.
    @inline(__always)
    private static func store(_ value: Vector, _ destination: UnsafeMutablePointer<Float>, count: Int) {
        if count >= 8 {
            UnsafeMutableRawPointer(destination).storeBytes(of: value, as: Vector.self)
        } else {
            for lane in 0..<max(count, 0) { destination[lane] = value[lane] }
        }
    }

    /// Z (B, F, D) -> (B, D + pairs).
    ///
    /// Per sample, Z is transposed into a (D, P) scratch (P = F rounded up to 16, padding zero),
    /// so the dots of row i with rows j < i come 8 at a time: acc[j] += Z[i, k] * Zt[k, j]. Rows
    /// i and i + 1 go together over blocks of 16 j's: four accumulators, each load used twice.
    static func forward(_ shape: InteractionShape, input: UnsafeMutablePointer<Float>, output: UnsafeMutablePointer<Float>, rows: Int) {
        let d = shape.dimension, f = shape.featureCount, inWidth = shape.inputWidth, outWidth = shape.outputWidth
        let passesFirstSlot = shape.passesFirstSlot, pairsOffset = shape.pairsOffset
        let padded = (f + 15) & ~15
        withUnsafeTemporaryAllocation(of: Float.self, capacity: d * padded) { scratch in
            let zt = scratch.baseAddress!
            zt.initialize(repeating: 0, count: d * padded)
            let raw = UnsafeRawPointer(zt)
            @inline(__always) func column(_ k: Int, _ block: Int) -> Vector {
                raw.loadUnaligned(fromByteOffset: (k &* padded &+ block) &* 4, as: Vector.self)
            }
            for b in 0..<rows {
                let z = input + b &* inWidth
                let out = output + b &* outWidth
                for j in 0..<f {
                    for k in 0..<d { zt[k &* padded &+ j] = z[j &* d &+ k] }
                }
                if passesFirstSlot { out.update(from: z, count: d) }
                // Row i's dots start at `pairsOffset + i(i-1)/2`; row i + 1's right after them.
                var i = 1
                while i < f {
                    let second = i &+ 1 < f
                    let za = z + i &* d, zb = second ? za + d : za
                    let outA = out + (pairsOffset &+ (i &* (i &- 1)) / 2), outB = outA + i
                    let extent = second ? i &+ 1 : i
                    var block = 0
                    while block < extent {
                        var a0 = Vector(repeating: 0), a1 = Vector(repeating: 0)
                        var b0 = Vector(repeating: 0), b1 = Vector(repeating: 0)
                        for k in 0..<d {
                            let c0 = column(k, block), c1 = column(k, block &+ 8)
                            a0 += za[k] * c0
                            a1 += za[k] * c1
                            b0 += zb[k] * c0
                            b1 += zb[k] * c1
                        }
                        store(a0, outA + block, count: i &- block)
                        store(a1, outA + (block &+ 8), count: i &- block &- 8)
                        if second {
                            store(b0, outB + block, count: i &+ 1 &- block)
                            store(b1, outB + (block &+ 8), count: i &+ 1 &- block &- 8)
                        }
                        block &+= 16
                    }
                    i &+= 2
                }
            }
        }
    }

    /// dL/dZ (B, F, D) from dL/d(output) (B, D + pairs); overwrites `inputGradient`.
    ///
    /// With G the symmetric (F, F) matrix of pair gradients (zero diagonal), dZ = G Z, plus the
    /// pass-through gradient in slot 0: dZ_i = sum over j != i, in order, of G_ij Z_j. Rows i and
    /// i + 1 go together, 16 lanes at a time when the dimension allows: four accumulators in
    /// registers, each Z_j load used twice, one store per output vector.
    static func backward(_ shape: InteractionShape, input: UnsafeMutablePointer<Float>, outputGradient: UnsafeMutablePointer<Float>,
                         inputGradient: UnsafeMutablePointer<Float>, rows: Int) {
        let d = shape.dimension, f = shape.featureCount, inWidth = shape.inputWidth, outWidth = shape.outputWidth
        let offset = shape.pairsOffset, passes = shape.passesFirstSlot
        for b in 0..<rows {
            let zs = input + b &* inWidth
            let z = UnsafeRawPointer(zs)
            let g = outputGradient + b &* outWidth
            let dz = inputGradient + b &* inWidth
            @inline(__always) func load(_ j: Int, _ lane: Int) -> Vector {
                z.loadUnaligned(fromByteOffset: (j &* d &+ lane) &* 4, as: Vector.self)
            }
            /// G_ij (i != j) where the pairs' gradients sit.
            @inline(__always) func pair(_ i: Int, _ j: Int) -> Float {
                i > j ? g[offset &+ (i &* (i &- 1)) / 2 &+ j] : g[offset &+ (j &* (j &- 1)) / 2 &+ i]
            }
            @inline(__always) func start(_ i: Int, _ lane: Int) -> Vector {
                i == 0 && passes ? UnsafeRawPointer(g).loadUnaligned(fromByteOffset: lane &* 4, as: Vector.self) : Vector(repeating: 0)
            }
            var i = 0
            while i < f {
                let second = i &+ 1 < f, i2 = i &+ 1
                var lane = 0
                while lane &+ 16 <= d {
                    var a0 = start(i, lane), a1 = start(i, lane &+ 8)
                    var b0 = Vector(repeating: 0), b1 = Vector(repeating: 0)
                    for j in 0..<f {
                        let z0 = load(j, lane), z1 = load(j, lane &+ 8)
                        if j != i {
                            let gi = pair(i, j)
                            a0 += gi * z0
                            a1 += gi * z1
                        }
                        if second && j != i2 {
                            let gj = pair(i2, j)
                            b0 += gj * z0
                            b1 += gj * z1
                        }
                    }
                    let outA = UnsafeMutableRawPointer(dz + (i &* d &+ lane))
                    outA.storeBytes(of: a0, as: Vector.self)
                    outA.storeBytes(of: a1, toByteOffset: 32, as: Vector.self)
                    if second {
                        let outB = UnsafeMutableRawPointer(dz + (i2 &* d &+ lane))
                        outB.storeBytes(of: b0, as: Vector.self)
                        outB.storeBytes(of: b1, toByteOffset: 32, as: Vector.self)
                    }
                    lane &+= 16
                }
                while lane &+ 8 <= d {
                    var a0 = start(i, lane), b0 = Vector(repeating: 0)
                    for j in 0..<f {
                        let z0 = load(j, lane)
                        if j != i { a0 += pair(i, j) * z0 }
                        if second && j != i2 { b0 += pair(i2, j) * z0 }
                    }
                    UnsafeMutableRawPointer(dz + (i &* d &+ lane)).storeBytes(of: a0, as: Vector.self)
                    if second { UnsafeMutableRawPointer(dz + (i2 &* d &+ lane)).storeBytes(of: b0, as: Vector.self) }
                    lane &+= 8
                }
                while lane < d {
                    for row in i..<(second ? i2 &+ 1 : i &+ 1) {
                        var accumulator: Float = row == 0 && passes ? g[lane] : 0
                        for j in 0..<f where j != row { accumulator += pair(row, j) * zs[j &* d &+ lane] }
                        dz[row &* d &+ lane] = accumulator
                    }
                    lane &+= 1
                }
                i &+= 2
            }
        }
    }
}
