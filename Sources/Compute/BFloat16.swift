/// bf16 values as bit patterns (UInt16) on the host.
public enum BFloat16 {
    /// The bf16 nearest to `value` (ties to even, as `pack` rounds; NaN stays NaN).
    public static func nearest(to value: Float) -> UInt16 {
        value.isNaN ? UInt16(truncatingIfNeeded: value.bitPattern >> 16) | 0x40 : HalfKernels.bfloat16(value.bitPattern)
    }

    /// The fp32 a bf16 stands for (exact).
    @inlinable
    public static func widen(_ bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }
}
