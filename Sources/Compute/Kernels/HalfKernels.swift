/// fp32 <-> 16-bit float conversions over host memory (bit patterns in UInt16).
enum HalfKernels {
    /// Round to nearest even: bf16 keeps fp32's upper 16 bits after adding 0x7FFF plus the
    /// lowest kept bit; fp16 is Swift's `Float16` conversion (F16C on x86-64).
    static func pack(_ source: UnsafeMutablePointer<Float>, as format: HalfFormat, into destination: UnsafeMutablePointer<UInt16>,
                     count: Int) {
        switch format {
        case .bf16:
            let bits = UnsafeRawPointer(source).assumingMemoryBound(to: UInt32.self)
            for i in 0..<count { destination[i] = bfloat16(bits[i]) }
        case .fp16:
            for i in 0..<count { destination[i] = Float16(source[i]).bitPattern }
        }
    }

    /// The bf16 nearest (ties to even) to the fp32 with bit pattern `bits`.
    @inline(__always)
    static func bfloat16(_ bits: UInt32) -> UInt16 {
        UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
    }

    static func unpack(_ source: UnsafeMutablePointer<UInt16>, from format: HalfFormat, into destination: UnsafeMutablePointer<Float>,
                       count: Int) {
        switch format {
        case .bf16:
            for i in 0..<count { destination[i] = Float(bitPattern: UInt32(source[i]) << 16) }
        case .fp16:
            for i in 0..<count { destination[i] = Float(Float16(bitPattern: source[i])) }
        }
    }
}
