import Compute
import NeuralNetwork
import Testing
import TestSupport

/// Under bf16 matmuls a linear layer rounds its input, weights and output gradient to bf16 once
/// each and reuses the copies (issue 28): its output and gradients are, bit for bit, those of
/// products that round their operands themselves.
@Suite struct MatmulOperandsTests {
    @Test func roundingEachOperandOnceChangesNoBit() {
        guard CPUBackend.bfloat16Implementation != nil else {
            print("skipped the bf16 operand comparison: this CPU has no bf16 instructions")
            return
        }
        for backend in [CPUBackend(matmulPrecision: .bf16), SeparateMemoryBackend(matmulPrecision: .bf16)] {
            let arena = ParameterArena(backend: backend)
            let rows = 37, inputSize = 29, outputSize = 19
            let layer = Linear(arena: arena, name: "layer", inputSize: inputSize, outputSize: outputSize, appliesReLU: true)
            arena.allocate()
            var generator = SeededGenerator(seed: 5)
            layer.initialize(using: &generator)
            var random = TestRandom(seed: 8)
            let input = backend.makeFloats(rows * inputSize), output = backend.makeFloats(rows * outputSize)
            let gradient = backend.makeFloats(rows * outputSize), inputGradient = backend.makeFloats(rows * inputSize)
            random.fill(input.whole)
            random.fill(gradient.whole)
            let outputGradient = gradient.toArray()
            layer.forward(input: input.whole, output: output.whole, rows: rows)
            arena.zeroGradients()
            layer.backward(input: input.whole, output: output.whole, outputGradient: gradient.whole, inputGradient: inputGradient.whole,
                           rows: rows)

            // The same products, each rounding its own operands.
            let expectedOutput = backend.makeFloats(rows * outputSize)
            backend.gemm(transposeA: false, transposeB: true, m: rows, n: outputSize, k: inputSize, alpha: 1, a: input.whole, lda: inputSize,
                         b: layer.weight, ldb: inputSize, beta: 0, c: expectedOutput.whole, ldc: outputSize)
            backend.addBias(expectedOutput.whole, bias: layer.bias, rows: rows, columns: outputSize, relu: true)
            let masked = backend.makeFloats(rows * outputSize)
            masked.copy(from: outputGradient)
            backend.reluBackward(gradient: masked.whole, output: expectedOutput.whole, count: masked.count)
            let expectedWeightGradient = backend.makeFloats(outputSize * inputSize), expectedInputGradient = backend.makeFloats(rows * inputSize)
            backend.gemm(transposeA: true, transposeB: false, m: outputSize, n: inputSize, k: rows, alpha: 1, a: masked.whole, lda: outputSize,
                         b: input.whole, ldb: inputSize, beta: 1, c: expectedWeightGradient.whole, ldc: inputSize)
            backend.gemm(transposeA: false, transposeB: false, m: rows, n: inputSize, k: outputSize, alpha: 1, a: masked.whole, lda: outputSize,
                         b: layer.weight, ldb: inputSize, beta: 0, c: expectedInputGradient.whole, ldc: inputSize)

            func bits(_ slice: DeviceSlice<Float>) -> [UInt32] { slice.toArray().map(\.bitPattern) }
            #expect(bits(output.whole) == bits(expectedOutput.whole), "\(backend.name): forward")
            #expect(bits(layer.weightGradient) == bits(expectedWeightGradient.whole), "\(backend.name): weight gradient")
            #expect(bits(inputGradient.whole) == bits(expectedInputGradient.whole), "\(backend.name): input gradient")
            #expect(bits(output.whole) != bits(expectedOutput.whole).map { _ in 0 }, "the products ran")
        }
    }
}
