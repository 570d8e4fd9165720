/// How an embedding table stores its rows: fp32, or bf16 (half the bytes per row, so twice the
/// rows per node; TorchRec's and HugeCTR's 16-bit tables). A bf16 table is read widened to fp32
/// (exactly), its updates are computed in fp32 and written back by stochastic rounding.
public enum TablePrecision: String, Sendable, Codable, CaseIterable {
    case fp32
    case bf16

    /// Bytes of one stored value.
    public var bytesPerValue: Int { self == .fp32 ? 4 : 2 }
}
