/// bf16 values as bit patterns (UInt16) on the host.
public enum BFloat16 {
    /// The bf16 nearest to `value` (ties to even; NaN stays NaN).
    @inlinable
    public static func nearest(to value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x40 }
        return UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
    }

    /// The fp32 a bf16 stands for (exact).
    @inlinable
    public static func widen(_ bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }
}
