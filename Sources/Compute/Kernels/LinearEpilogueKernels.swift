/// The element-wise work around a linear layer's products, fused into fewer passes over its
/// activations (each pass over a batch's activations costs memory bandwidth, not arithmetic).
enum LinearEpilogueKernels {
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
