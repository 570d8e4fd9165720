/// Stochastic rounding of fp32 values to bf16: a value between two bf16 neighbours goes to the
/// upper one (in magnitude) with probability equal to its distance from the lower one over the
/// gap, so the rounded value is the fp32 one on average. Small updates of a bf16 row then add up
/// over steps instead of vanishing below half an ulp (FBGEMM's stochastic rounding of 16-bit
/// tables).
///
/// The random bits are a hash of (`seed`, global row, element), not a stream: a row rounds the
/// same whatever the order rows are updated in, the thread that updates them or the rank that
/// holds them, so runs are reproducible and N ranks round as one.
public struct StochasticRounding: Sendable, Equatable {
    /// Drawn per (run, step, table) by the caller.
    public var seed: UInt64
    /// The global row of local row 0 (a row-wise shard's first row).
    public var firstRow: Int

    public init(seed: UInt64, firstRow: Int) {
        self.seed = seed
        self.firstRow = firstRow
    }

    /// The rounding of one update of table `table` (its name: the same on every rank, whichever
    /// tables a rank holds) at `step`, drawn from `runSeed`.
    public init(runSeed: UInt64, step: Int, table: String, firstRow: Int) {
        var tableKey: UInt64 = 0xCBF2_9CE4_8422_2325  // FNV-1a of the name
        for byte in table.utf8 { tableKey = (tableKey ^ UInt64(byte)) &* 0x100_0000_01B3 }
        let stepKey = SeededGenerator.mix(runSeed &+ UInt64(truncatingIfNeeded: step) &* 0x9E37_79B9_7F4A_7C15)
        self.init(seed: SeededGenerator.mix(stepKey ^ tableKey), firstRow: firstRow)
    }

    /// The rounding of an optimizer state stored beside these rows (`stream` 1 and 2 for the
    /// first and second state): the same rows, bits of its own.
    public func forState(_ stream: UInt64) -> StochasticRounding {
        StochasticRounding(seed: SeededGenerator.mix(seed ^ stream), firstRow: firstRow)
    }

    /// Rounds `count` values of local row `row` into `destination`. NaN stays NaN and
    /// infinities stay infinite; a value within an ulp of the largest bf16 may round to infinity.
    @inline(__always)
    func round(_ values: UnsafePointer<Float>, row: Int, into destination: UnsafeMutablePointer<UInt16>, count: Int) {
        let rowKey = SeededGenerator.mix(seed ^ UInt64(truncatingIfNeeded: firstRow &+ row))
        var random: UInt64 = 0
        for i in 0..<count {
            if i & 3 == 0 { random = SeededGenerator.mix(rowKey &+ UInt64(truncatingIfNeeded: i >> 2)) }
            let bits = values[i].bitPattern
            if bits & 0x7F80_0000 == 0x7F80_0000 {
                // Infinity keeps its bits; NaN stays a (quiet) NaN however its payload lies.
                destination[i] = UInt16(truncatingIfNeeded: bits >> 16) | (bits & 0x7F_FFFF != 0 ? 0x40 : 0)
            } else {
                let r = UInt32(truncatingIfNeeded: random >> UInt64(16 &* (i & 3))) & 0xFFFF
                destination[i] = UInt16(truncatingIfNeeded: (bits &+ r) >> 16)
            }
        }
    }
}
