import Compute

/// A fully connected layer `y = x W^T + b`, optionally followed by ReLU.
///
/// Shapes: x is (B, inputSize), W is (outputSize, inputSize) as in PyTorch, b is (outputSize),
/// y is (B, outputSize). Weights live in the model's `ParameterArena`.
public struct Linear: Sendable {
    public let inputSize: Int
    public let outputSize: Int
    public let appliesReLU: Bool
    let arena: ParameterArena
    let weightOffset: Int
    let biasOffset: Int

    /// Reserves `name/weight` and `name/bias` in `arena`.
    public init(arena: ParameterArena, name: String, inputSize: Int, outputSize: Int, appliesReLU: Bool) {
        self.inputSize = inputSize
        self.outputSize = outputSize
        self.appliesReLU = appliesReLU
        self.arena = arena
        weightOffset = arena.reserve("\(name)/weight", shape: [outputSize, inputSize])
        biasOffset = arena.reserve("\(name)/bias", shape: [outputSize])
    }

    /// This layer's slice of the arena (weight, then bias).
    public var parameterRange: Range<Int> { weightOffset..<(biasOffset + outputSize) }

    public var weight: TensorView { arena.value(at: weightOffset, count: outputSize * inputSize) }
    public var bias: TensorView { arena.value(at: biasOffset, count: outputSize) }
    public var weightGradient: TensorView { arena.gradient(at: weightOffset, count: outputSize * inputSize) }
    public var biasGradient: TensorView { arena.gradient(at: biasOffset, count: outputSize) }

    /// Initialisation of the DLRM reference: W ~ N(0, 2/(in+out)), b ~ N(0, 1/out).
    public func initialize(using generator: inout SeededGenerator) {
        let weightScale = (2.0 / Double(inputSize + outputSize)).squareRoot()
        let biasScale = (1.0 / Double(outputSize)).squareRoot()
        let w = weight, b = bias
        for i in 0..<w.count { w[i] = Float(generator.nextNormal() * weightScale) }
        for i in 0..<b.count { b[i] = Float(generator.nextNormal() * biasScale) }
    }

    /// y (B, out) = relu?(x (B, in) W^T + b).
    public func forward(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, rows: Int) {
        guard inputSize > 0 else {
            // No inputs (a wide part without dense features): the output is the bias.
            for r in 0..<rows { (output + r * outputSize).update(from: bias.base, count: outputSize) }
            return
        }
        BLAS.gemm(transposeA: false, transposeB: true, m: rows, n: outputSize, k: inputSize,
                  a: input, lda: inputSize, b: weight.base, ldb: inputSize,
                  beta: 0, c: output, ldc: outputSize)
        if appliesReLU {
            Kernels.addRowBiasReLU(output, bias: bias.base, rows: rows, columns: outputSize)
        } else {
            Kernels.addRowBias(output, bias: bias.base, rows: rows, columns: outputSize)
        }
    }

    /// Backward. `outputGradient` (B, out) is dL/dy; when ReLU is applied it is masked in place
    /// by `output`. Adds dL/dW and dL/db into the arena's gradients; writes dL/dx (B, in) to
    /// `inputGradient` when given (the first layer of a network needs none).
    public func backward(input: UnsafePointer<Float>, output: UnsafePointer<Float>,
                         outputGradient: UnsafeMutablePointer<Float>,
                         inputGradient: UnsafeMutablePointer<Float>?, rows: Int) {
        if appliesReLU {
            Kernels.reluBackward(gradient: outputGradient, output: output, count: rows * outputSize)
        }
        Kernels.accumulateColumnSums(outputGradient, rows: rows, columns: outputSize, into: biasGradient.base)
        guard inputSize > 0 else { return }
        // dW (out, in) += dy^T (out, B) x (B, in)
        BLAS.gemm(transposeA: true, transposeB: false, m: outputSize, n: inputSize, k: rows,
                  a: outputGradient, lda: outputSize, b: input, ldb: inputSize,
                  beta: 1, c: weightGradient.base, ldc: inputSize)
        if let inputGradient {
            // dx (B, in) = dy (B, out) W (out, in)
            BLAS.gemm(transposeA: false, transposeB: false, m: rows, n: inputSize, k: outputSize,
                      a: outputGradient, lda: outputSize, b: weight.base, ldb: inputSize,
                      beta: 0, c: inputGradient, ldc: inputSize)
        }
    }
}
