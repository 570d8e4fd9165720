/// The sparse updates of tables stored in bf16: rows are widened to fp32 (exactly: a bf16 is an
/// fp32's upper half), updated in fp32, and written back by `StochasticRounding` (lookups and
/// gathers are `EmbeddingKernels`', written once for both precisions).
enum BFloat16TableKernels {
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
                UInt16.copy(stored, to: values, count: d)
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
            UInt16.copy(stored, to: scratch, count: width)
            update(scratch)
            rounding.round(scratch, row: row, into: stored, count: width)
        }
    }
}

