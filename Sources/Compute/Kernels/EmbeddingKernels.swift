/// The host addresses of one feature's bags (CSR): sample b owns `ids[offsets[b] ..< offsets[b + 1]]`.
struct HostBags {
    let ids: UnsafeMutablePointer<Int32>
    let offsets: UnsafeMutablePointer<Int32>
    let rows: Int
    let idCount: Int
}

/// A value as an embedding table stores it: `Float`, or `UInt16` holding a bf16 (an fp32's upper
/// half). The lookup kernels are written once over it and read rows widened to fp32 (exactly).
protocol StoredTableValue {
    /// The fp32 this value stands for.
    var widened: Float { get }
    /// `out[c] = row[c]` widened.
    static func copy(_ row: UnsafePointer<Self>, to out: UnsafeMutablePointer<Float>, count: Int)
    /// `out[c] += row[c]` widened.
    static func add(_ row: UnsafePointer<Self>, into out: UnsafeMutablePointer<Float>, count: Int)
}

extension Float: StoredTableValue {
    var widened: Float { self }

    @inline(__always)
    static func copy(_ row: UnsafePointer<Float>, to out: UnsafeMutablePointer<Float>, count: Int) {
        Kernels.copy(row, to: out, count: count)
    }

    @inline(__always)
    static func add(_ row: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count: Int) {
        Kernels.add(row, into: out, count: count)
    }
}

extension UInt16: StoredTableValue {
    var widened: Float { BFloat16.widen(self) }

    @inline(__always)
    static func copy(_ row: UnsafePointer<UInt16>, to out: UnsafeMutablePointer<Float>, count: Int) {
        for c in 0..<count { out[c] = BFloat16.widen(row[c]) }
    }

    @inline(__always)
    static func add(_ row: UnsafePointer<UInt16>, into out: UnsafeMutablePointer<Float>, count: Int) {
        for c in 0..<count { out[c] += BFloat16.widen(row[c]) }
    }
}

/// Embedding-bag kernels over host memory.
///
/// Random rows of a large table miss the caches and a plain loop stalls on each miss, so the
/// lookups prefetch `prefetchDistance` ids ahead.
enum EmbeddingKernels {
    static let prefetchDistance = 16

    /// Sum (or mean) pooling of bags `rows` into `output + b * outputStride`, in fp32 whatever the
    /// table stores (over bf16 rows the same sums as over the widened rows).
    static func pool<Value: StoredTableValue>(_ bags: HostBags, rows: Range<Int>, table w: UnsafeMutablePointer<Value>,
                                              dimension: Int, output: UnsafeMutablePointer<Float>, outputStride: Int,
                                              mean: Bool) {
        let ids = bags.ids, offsets = bags.offsets
        // Prefetching stops at the range's last id.
        let idCount = Int(offsets[rows.upperBound]), firstID = Int(offsets[rows.lowerBound])
        for k in firstID..<min(firstID &+ prefetchDistance, idCount) { Kernels.prefetch(w + Int(ids[k]) &* dimension) }
        for b in rows {
            let out = output + b &* outputStride
            let start = Int(offsets[b]), end = Int(offsets[b &+ 1])
            if start == end {
                out.update(repeating: 0, count: dimension)
                continue
            }
            for k in start..<end {
                if k &+ prefetchDistance < idCount { Kernels.prefetch(w + Int(ids[k &+ prefetchDistance]) &* dimension) }
                let row = w + Int(ids[k]) &* dimension
                if k == start {
                    Value.copy(row, to: out, count: dimension)
                } else {
                    Value.add(row, into: out, count: dimension)
                }
            }
            if mean && end &- start > 1 {
                let scale = 1 / Float(end &- start)
                for c in 0..<dimension { out[c] *= scale }
            }
        }
    }

    /// `output[b] += sum of w[ids of bag b]` for width-1 tables.
    static func addScalars<Value: StoredTableValue>(_ bags: HostBags, table w: UnsafeMutablePointer<Value>,
                                                    output: UnsafeMutablePointer<Float>) {
        let ids = bags.ids, offsets = bags.offsets, idCount = bags.idCount
        for b in 0..<bags.rows {
            var sum: Float = 0
            for k in Int(offsets[b])..<Int(offsets[b &+ 1]) {
                if k &+ prefetchDistance < idCount { Kernels.prefetch(w + Int(ids[k &+ prefetchDistance])) }
                sum += w[Int(ids[k])].widened
            }
            output[b] += sum
        }
    }

    /// Every id's row += scale * gradient[b] (scale / bag size with mean pooling): SGD is linear
    /// in the gradient, so a fused update needs no de-duplication.
    static func scatterAdd(_ bags: HostBags, gradient: UnsafeMutablePointer<Float>, gradientStride: Int, scale: Float,
                           mean: Bool, table w: UnsafeMutablePointer<Float>, dimension: Int) {
        let ids = bags.ids, offsets = bags.offsets, idCount = bags.idCount
        for b in 0..<bags.rows {
            let source = gradient + b &* gradientStride
            let start = Int(offsets[b]), end = Int(offsets[b &+ 1])
            let rowScale = mean && end &- start > 1 ? scale / Float(end &- start) : scale
            for k in start..<end {
                if k &+ prefetchDistance < idCount {
                    Kernels.prefetchForWrite(w + Int(ids[k &+ prefetchDistance]) &* dimension)
                }
                Kernels.axpy(rowScale, source, w + Int(ids[k]) &* dimension, count: dimension)
            }
        }
    }

    /// `output[j] = row pairs[2j + 1] of table pairs[2j]` as stored (a bf16 table's rows cross
    /// the exchange in 16 bits), tables given by their row-0 addresses.
    static func gatherRows<Value>(_ rowBases: [UnsafeMutablePointer<Value>?], pairs: UnsafeMutablePointer<Int32>, count: Int,
                                  dimension: Int, output: UnsafeMutablePointer<Value>) {
        @inline(__always) func row(_ j: Int) -> UnsafeMutablePointer<Value> {
            rowBases[Int(pairs[2 &* j])].unsafelyUnwrapped + Int(pairs[2 &* j &+ 1]) &* dimension
        }
        for j in 0..<count {
            if j &+ prefetchDistance < count { Kernels.prefetch(row(j &+ prefetchDistance)) }
            (output + j &* dimension).update(from: row(j), count: dimension)
        }
    }

    /// `row pairs[2j + 1] of table pairs[2j] += scale * values[j]`, in order of j.
    static func scatterAddRows(_ values: UnsafeMutablePointer<Float>, pairs: UnsafeMutablePointer<Int32>, count: Int,
                               scale: Float, rowBases: [UnsafeMutablePointer<Float>?], dimension: Int) {
        @inline(__always) func row(_ j: Int) -> UnsafeMutablePointer<Float> {
            rowBases[Int(pairs[2 &* j])].unsafelyUnwrapped + Int(pairs[2 &* j &+ 1]) &* dimension
        }
        for j in 0..<count {
            if j &+ prefetchDistance < count { Kernels.prefetchForWrite(row(j &+ prefetchDistance)) }
            Kernels.axpy(scale, values + j &* dimension, row(j), count: dimension)
        }
    }
}

/// De-duplicating accumulation into a sparse row gradient: the row-to-slot map (an
/// open-addressed hash of (row, slot) pairs, `SparseRowGradient.slotMap`) gives each row's entry,
/// so the sums follow the order of contributions and are deterministic.
struct RowGradientAccumulator {
    let map: UnsafeMutablePointer<Int32>
    let mask: Int
    let rowIDs: UnsafeMutablePointer<Int32>
    let values: UnsafeMutablePointer<Float>
    let dimension: Int
    var rowCount: Int

    /// The entry of `row`, created on first use (`isNew`: its gradient is left for the caller to
    /// start).
    @inline(__always)
    mutating func entry(of row: Int) -> (slot: Int, isNew: Bool) {
        var pair = SparseRowGradient.slotHome(of: row, mask: mask)
        while true {
            let held = Int(map[2 &* pair])
            if held == row { return (Int(map[2 &* pair &+ 1]), false) }
            if held < 0 {
                let slot = rowCount
                map[2 &* pair] = Int32(truncatingIfNeeded: row)
                map[2 &* pair &+ 1] = Int32(truncatingIfNeeded: slot)
                rowIDs[slot] = Int32(truncatingIfNeeded: row)
                rowCount &+= 1
                return (slot, true)
            }
            pair = (pair &+ 1) & mask
        }
    }

    /// Adds `gradient` (dimension floats) to `row`'s entry, creating it on first use.
    @inline(__always)
    mutating func accumulate(row: Int, gradient source: UnsafePointer<Float>) {
        let (slot, isNew) = entry(of: row)
        if isNew {
            Kernels.copy(source, to: values + slot &* dimension, count: dimension)
        } else {
            Kernels.add(source, into: values + slot &* dimension, count: dimension)
        }
    }

    /// Adds `scale * gradient` to the entries of `count` rows (one mean-pooled bag).
    mutating func accumulateScaled(rows: UnsafeMutablePointer<Int32>, count: Int, gradient source: UnsafePointer<Float>,
                                   scale: Float, dimension: Int) {
        for k in 0..<count {
            let (slot, isNew) = entry(of: Int(rows[k]))
            if isNew { (values + slot &* dimension).update(repeating: 0, count: dimension) }
            Kernels.axpy(scale, source, values + slot &* dimension, count: dimension)
        }
    }
}
