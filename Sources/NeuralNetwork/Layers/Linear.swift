import Compute

/// A fully connected layer `y = x W^T + b`, optionally followed by ReLU, optionally without b.
///
/// Shapes: x is (B, inputSize), W is (outputSize, inputSize) as in PyTorch, b is (outputSize),
/// y is (B, outputSize). Weights live in the model's `ParameterArena`.
public struct Linear: Sendable {
    public let inputSize: Int
    public let outputSize: Int
    public let appliesReLU: Bool
    let arena: ParameterArena
    let weightOffset: Int
    /// Nil for a layer without bias.
    let biasOffset: Int?
    /// The input, weights and output gradient as the products take them (under bf16 matmuls
    /// rounded once each: slots `inputSlot`, `weightSlot`, `gradientSlot`).
    let operands: MatmulOperands
    private static let inputSlot = 0, weightSlot = 1, gradientSlot = 2

    /// Reserves `name/weight` and (with `hasBias`) `name/bias` in `arena`.
    public init(arena: ParameterArena, name: String, inputSize: Int, outputSize: Int, appliesReLU: Bool, hasBias: Bool = true) {
        self.inputSize = inputSize
        self.outputSize = outputSize
        self.appliesReLU = appliesReLU
        self.arena = arena
        weightOffset = arena.reserve("\(name)/weight", shape: [outputSize, inputSize])
        biasOffset = hasBias ? arena.reserve("\(name)/bias", shape: [outputSize]) : nil
        operands = MatmulOperands(backend: arena.backend, slots: 3)
    }

    public var hasBias: Bool { biasOffset != nil }
    private var backend: any ComputeBackend { arena.backend }
    /// This layer's slice of the arena (weight, then bias).
    public var parameterRange: Range<Int> {
        weightOffset..<(biasOffset.map { $0 + outputSize } ?? weightOffset + outputSize * inputSize)
    }

    public var weight: DeviceSlice<Float> { arena.value(at: weightOffset, count: outputSize * inputSize) }
    public var bias: DeviceSlice<Float> { arena.value(at: biasOffset!, count: outputSize) }
    public var weightGradient: DeviceSlice<Float> { arena.gradient(at: weightOffset, count: outputSize * inputSize) }
    public var biasGradient: DeviceSlice<Float> { arena.gradient(at: biasOffset!, count: outputSize) }

    /// Initialisation of the DLRM reference: W ~ N(0, 2/(in+out)), b ~ N(0, 1/out).
    public func initialize(using generator: inout SeededGenerator) {
        let weightScale = (2.0 / Double(inputSize + outputSize)).squareRoot()
        let biasScale = (1.0 / Double(outputSize)).squareRoot()
        weight.copy(from: (0..<weight.count).map { _ in Float(generator.nextNormal() * weightScale) })
        if biasOffset != nil { bias.copy(from: (0..<outputSize).map { _ in Float(generator.nextNormal() * biasScale) }) }
    }

    /// Under bf16 products, where this layer's input `values` (the previous layer's output) are
    /// to be rounded by that layer's forward (`roundedOutput`); nil under fp32 products.
    public func inputDestination(for values: DeviceSlice<Float>) -> DeviceSlice<UInt16>? {
        inputSize > 0 ? operands.destination(for: values, slot: Self.inputSlot) : nil
    }

    /// y (B, out) = relu?(x (B, in) W^T + b). With `roundedOutput` (the next layer's
    /// `inputDestination`), y is also rounded there in the same pass; `inputIsRounded` says the
    /// previous layer rounded x into this layer's `inputDestination` already.
    public func forward(input: DeviceSlice<Float>, output: DeviceSlice<Float>, rows: Int,
                        roundedOutput: DeviceSlice<UInt16>? = nil, inputIsRounded: Bool = false) {
        guard inputSize > 0 else {
            // No inputs (a wide part without dense features): the output is the bias.
            backend.copyRows(from: bias, sourceStride: 0, to: output, destinationStride: outputSize, rows: rows, columns: outputSize)
            return
        }
        let inputs = input.slice(0, rows * inputSize)
        let x = inputIsRounded ? operands.reused(Self.inputSlot, of: inputs) : operands.operand(inputs, slot: Self.inputSlot)
        let w = operands.operand(weight, slot: Self.weightSlot)
        if biasOffset != nil, let roundedOutput {
            backend.linearForward(transposeA: false, transposeB: true, m: rows, n: outputSize, k: inputSize, a: x, lda: inputSize,
                                  b: w, ldb: inputSize, c: output, ldc: outputSize, bias: bias, relu: appliesReLU, rounded: roundedOutput)
        } else if biasOffset != nil {
            backend.linearForward(transposeA: false, transposeB: true, m: rows, n: outputSize, k: inputSize, a: x, lda: inputSize,
                                  b: w, ldb: inputSize, c: output, ldc: outputSize, bias: bias, relu: appliesReLU)
        } else {
            precondition(!appliesReLU, "Linear: ReLU without a bias is not implemented")
            backend.gemm(transposeA: false, transposeB: true, m: rows, n: outputSize, k: inputSize, alpha: 1, a: x, lda: inputSize,
                         b: w, ldb: inputSize, beta: 0, c: output, ldc: outputSize)
            if let roundedOutput {
                backend.pack(output.slice(0, rows * outputSize), as: .bf16, into: roundedOutput.slice(0, rows * outputSize))
            }
        }
    }

    /// Backward. `outputGradient` (B, out) is dL/dy; when ReLU is applied it is masked in place
    /// by `output`. Adds dL/dW and dL/db into the arena's gradients; writes dL/dx (B, in) to
    /// `inputGradient` when given (the first layer of a network needs none), or adds it there
    /// with `addsInputGradient` (a gate's input, which other layers read too). `input` is the
    /// forward's (under bf16 matmuls, the copy the forward rounded is read).
    public func backward(input: DeviceSlice<Float>, output: DeviceSlice<Float>, outputGradient: DeviceSlice<Float>,
                         inputGradient: DeviceSlice<Float>?, rows: Int, addsInputGradient: Bool = false) {
        let gradients = outputGradient.slice(0, rows * outputSize)
        let gradient: MatmulOperand
        if inputSize > 0, let rounded = operands.destination(for: gradients, slot: Self.gradientSlot) {
            // bf16 products: masked, summed and rounded in one pass.
            backend.linearBackwardEpilogue(gradient: gradients, rows: rows, columns: outputSize, reluOutput: appliesReLU ? output : nil,
                                           biasGradient: biasOffset != nil ? biasGradient : nil, rounded: rounded)
            gradient = .bf16(rounded)
        } else {
            if appliesReLU {
                backend.reluBackward(gradient: outputGradient, output: output, count: rows * outputSize)
            }
            if biasOffset != nil { backend.accumulateColumnSums(outputGradient, rows: rows, columns: outputSize, into: biasGradient) }
            guard inputSize > 0 else { return }
            gradient = operands.operand(gradients, slot: Self.gradientSlot)
        }
        // dW (out, in) += dy^T (out, B) x (B, in)
        backend.gemm(transposeA: true, transposeB: false, m: outputSize, n: inputSize, k: rows, alpha: 1,
                     a: gradient, lda: outputSize, b: operands.reused(Self.inputSlot, of: input.slice(0, rows * inputSize)), ldb: inputSize,
                     beta: 1, c: weightGradient, ldc: inputSize)
        if let inputGradient {
            // dx (B, in) (+)= dy (B, out) W (out, in)
            backend.gemm(transposeA: false, transposeB: false, m: rows, n: inputSize, k: outputSize, alpha: 1,
                         a: gradient, lda: outputSize, b: operands.reused(Self.weightSlot, of: weight), ldb: inputSize,
                         beta: addsInputGradient ? 1 : 0, c: inputGradient, ldc: inputSize)
        }
    }
}
