/// The element-wise work around a linear layer's products, fused into fewer passes over its
/// activations (each pass over a batch's activations costs memory bandwidth, not arithmetic).
enum LinearEpilogueKernels {
    /// A linear layer's forward epilogue and the rounding of its output in one pass: each row
    /// `y[c] = act(y[c] + bias[c])` (as `Kernels.addRowBias(ReLU)`), rounded (nearest, ties to
    /// even) into `rounded`.
    static func addBiasAndRound(_ y: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, relu: Bool,
                                rounded: UnsafeMutablePointer<UInt16>, rows: Int, columns: Int) {
        for r in 0..<rows {
            let row = y + r &* columns, packed = rounded + r &* columns
            if relu {
                for c in 0..<columns {
                    let value = max(0, row[c] + bias[c])
                    row[c] = value
                    packed[c] = HalfKernels.bfloat16(value.bitPattern)
                }
            } else {
                for c in 0..<columns {
                    let value = row[c] + bias[c]
                    row[c] = value
                    packed[c] = HalfKernels.bfloat16(value.bitPattern)
                }
            }
        }
    }

    /// ReLU's backward and the bf16 rounding in one pass: `gradient[i]` is zeroed where
    /// `reluOutput[i]` is not positive, and rounded (nearest, ties to even) into `rounded[i]`.
    static func maskAndRound(gradient g: UnsafeMutablePointer<Float>, reluOutput y: UnsafePointer<Float>,
                             rounded: UnsafeMutablePointer<UInt16>, count: Int) {
        for i in 0..<count {
            let value = y[i] > 0 ? g[i] : 0
            g[i] = value
            rounded[i] = HalfKernels.bfloat16(value.bitPattern)
        }
    }
}
