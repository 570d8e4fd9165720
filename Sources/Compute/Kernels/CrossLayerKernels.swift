/// The element-wise work of DCNv2's cross layers (`x_{l+1} = x0 ⊙ y_l + x_l`, `y_l` the
/// low-rank product plus its bias), each in one pass over a block of rows: these passes are
/// bound by memory bandwidth, so fusing them is what makes them faster.
enum CrossLayerKernels {
    /// Rows of (rows, columns): `y += bias`, then `next = x0 ⊙ y + x`, rounded to bf16 (nearest,
    /// ties to even) into `rounded` when given.
    static func forward(y: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, x0: UnsafePointer<Float>, x: UnsafePointer<Float>,
                        next: UnsafeMutablePointer<Float>, rounded: UnsafeMutablePointer<UInt16>?, rows: Int, columns: Int) {
        for r in 0..<rows {
            let start = r &* columns
            let yr = y + start, x0r = x0 + start, xr = x + start, out = next + start
            for c in 0..<columns {
                let value = yr[c] + bias[c]
                yr[c] = value
                out[c] = x0r[c] * value + xr[c]
            }
            if let rounded {
                let bits = UnsafeRawPointer(out).assumingMemoryBound(to: UInt32.self), packed = rounded + start
                for c in 0..<columns { packed[c] = HalfKernels.bfloat16(bits[c]) }
            }
        }
    }

    /// `count` values: `gy = g ⊙ x0`, `gx0 += g ⊙ y`, and `gy` rounded into `rounded` when given.
    static func backward(gradient g: UnsafePointer<Float>, x0: UnsafePointer<Float>, y: UnsafePointer<Float>,
                         crossGradient gy: UnsafeMutablePointer<Float>, inputGradient gx0: UnsafeMutablePointer<Float>,
                         rounded: UnsafeMutablePointer<UInt16>?, count: Int) {
        for i in 0..<count {
            gy[i] = g[i] * x0[i]
            gx0[i] = g[i] * y[i] + gx0[i]
        }
        if let rounded {
            let bits = UnsafeRawPointer(gy).assumingMemoryBound(to: UInt32.self)
            for i in 0..<count { rounded[i] = HalfKernels.bfloat16(bits[i]) }
        }
    }
}
