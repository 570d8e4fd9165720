import CIntrinsics

/// Embedding kernels over tables stored in bf16: rows are widened to fp32 as they are read
/// (exactly: a bf16 is an fp32's upper half), pooled and updated in fp32, and an update is
/// written back by `StochasticRounding`.
enum BFloat16TableKernels {
    /// `out[c] = row[c]` widened.
    @inline(__always)
    static func copy(_ row: UnsafePointer<UInt16>, to out: UnsafeMutablePointer<Float>, count: Int) {
        for c in 0..<count { out[c] = BFloat16.widen(row[c]) }
    }

    /// `out[c] += row[c]` widened.
    @inline(__always)
    static func add(_ row: UnsafePointer<UInt16>, into out: UnsafeMutablePointer<Float>, count: Int) {
        for c in 0..<count { out[c] += BFloat16.widen(row[c]) }
    }

    /// Sum (or mean) pooling of bags `rows` into `output + b * outputStride`, as
    /// `EmbeddingKernels.pool` does over fp32 rows (the same sums in the same order).
    static func pool(_ bags: HostBags, rows: Range<Int>, table w: UnsafeMutablePointer<UInt16>, dimension: Int,
                     output: UnsafeMutablePointer<Float>, outputStride: Int, mean: Bool) {
        let ids = bags.ids, offsets = bags.offsets, distance = EmbeddingKernels.prefetchDistance
        let idCount = Int(offsets[rows.upperBound]), firstID = Int(offsets[rows.lowerBound])
        @inline(__always) func prefetch(_ k: Int) { recsys_prefetch(w + Int(ids[k]) &* dimension) }
        for k in firstID..<min(firstID &+ distance, idCount) { prefetch(k) }
        for b in rows {
            let out = output + b &* outputStride
            let start = Int(offsets[b]), end = Int(offsets[b &+ 1])
            if start == end {
                out.update(repeating: 0, count: dimension)
                continue
            }
            for k in start..<end {
                if k &+ distance < idCount { prefetch(k &+ distance) }
                let row = w + Int(ids[k]) &* dimension
                if k == start { copy(row, to: out, count: dimension) } else { add(row, into: out, count: dimension) }
            }
            if mean && end &- start > 1 {
                let scale = 1 / Float(end &- start)
                for c in 0..<dimension { out[c] *= scale }
            }
        }
    }

    /// `output[b] += sum of w[ids of bag b]` for width-1 tables.
    static func addScalars(_ bags: HostBags, table w: UnsafeMutablePointer<UInt16>, output: UnsafeMutablePointer<Float>) {
        let ids = bags.ids, offsets = bags.offsets
        for b in 0..<bags.rows {
            var sum: Float = 0
            for k in Int(offsets[b])..<Int(offsets[b &+ 1]) { sum += BFloat16.widen(w[Int(ids[k])]) }
            output[b] += sum
        }
    }

    /// `output[j] = row pairs[2j + 1] of table pairs[2j]`, the stored 16 bits (rows cross the
    /// exchange as they are stored).
    static func gatherRows(_ rowBases: [UnsafeMutablePointer<UInt16>?], pairs: UnsafeMutablePointer<Int32>, count: Int,
                           dimension: Int, output: UnsafeMutablePointer<UInt16>) {
        for j in 0..<count {
            let row = rowBases[Int(pairs[2 &* j])].unsafelyUnwrapped + Int(pairs[2 &* j &+ 1]) &* dimension
            (output + j &* dimension).update(from: row, count: dimension)
        }
    }

    /// Runs `update` on every row of `gradient` widened into fp32 scratch (with its index in the
    /// gradient and its local row), then writes the row back by `rounding`.
    static func updateRows(_ gradient: SparseRowGradient, rowIDs: UnsafeMutablePointer<Int32>, table w: UnsafeMutablePointer<UInt16>,
                           rounding: StochasticRounding,
                           _ update: (_ entry: Int, _ row: Int, _ values: UnsafeMutablePointer<Float>) -> Void) {
        let d = gradient.dimension
        withUnsafeTemporaryAllocation(of: Float.self, capacity: d) { scratch in
            let values = scratch.baseAddress!
            for u in 0..<gradient.rowCount {
                let row = Int(rowIDs[u]), stored = w + row &* d
                copy(stored, to: values, count: d)
                update(u, row, values)
                rounding.round(values, row: row, into: stored, count: d)
            }
        }
    }
}

/// An optimizer's state of a bf16 table's rows, `width` values a row, stored in fp32 (updated in
/// place) or in bf16 (widened into scratch for the update, then written back by `rounding`).
struct StateRows {
    let fp32: UnsafeMutablePointer<Float>?
    let bf16: UnsafeMutablePointer<UInt16>?
    let width: Int
    let rounding: StochasticRounding

    /// Runs `update` on row `row`'s state as fp32 values (`scratch` holds `width` floats).
    @inline(__always)
    func update(row: Int, scratch: UnsafeMutablePointer<Float>, _ update: (UnsafeMutablePointer<Float>) -> Void) {
        if let fp32 {
            update(fp32 + row &* width)
        } else {
            let stored = bf16.unsafelyUnwrapped + row &* width
            BFloat16TableKernels.copy(stored, to: scratch, count: width)
            update(scratch)
            rounding.round(scratch, row: row, into: stored, count: width)
        }
    }
}

