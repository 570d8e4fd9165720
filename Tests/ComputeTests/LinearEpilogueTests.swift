import Compute
import Testing

/// The fused epilogues of linear and cross layers leave the bits of the operations one after the
/// other (the protocol's defaults), on 1 thread and on 3: a linear layer's forward, the product
/// then bias, ReLU and the rounding of the output in one pass; its backward
/// (`linearBackwardEpilogue`), the masked gradient, the bias gradient summed row by row and the
/// rounding; a cross layer's forward and backward element-wise work with and without rounding.
@Suite(.serialized) struct LinearEpilogueTests {
    @Test(arguments: [(2048, 432), (300, 13)], [1, 3])
    func crossLayerPassesLeaveTheBitsOfTheOperationsApart(shape: (rows: Int, columns: Int), threads: Int) {
        let backend = CPUBackend()
        let count = shape.rows * shape.columns
        var generator = SeededGenerator(seed: UInt64(count + threads))
        func floats(_ count: Int) -> DeviceBuffer<Float> {
            let buffer = backend.makeFloats(count)
            buffer.copy(from: (0..<count).map { _ in Float(generator.nextNormal()) })
            return buffer
        }
        let y0 = floats(count).toArray(), bias = floats(shape.columns), x0 = floats(count), x = floats(count)
        let g = floats(count), gx00 = floats(count).toArray()
        for rounds in [false, true] {
            func run(fused: Bool) -> [[Float]] {
                let y = backend.makeFloats(count), next = backend.makeFloats(count), gy = backend.makeFloats(count)
                let gx0 = backend.makeFloats(count), forwardRounded = backend.makeBuffer(UInt16.self, count: count)
                let backwardRounded = backend.makeBuffer(UInt16.self, count: count)
                y.copy(from: y0)
                gx0.copy(from: gx00)
                if fused {
                    RowThreads.setCount(threads)
                    defer { RowThreads.setCount(1) }
                    backend.crossLayerForward(y: y.whole, bias: bias.whole, x0: x0.whole, x: x.whole, next: next.whole, rows: shape.rows,
                                              columns: shape.columns, rounded: rounds ? forwardRounded.whole : nil)
                    backend.crossLayerBackward(gradient: g.whole, x0: x0.whole, y: y.whole, crossGradient: gy.whole,
                                               inputGradient: gx0.whole, rounded: rounds ? backwardRounded.whole : nil)
                } else {
                    backend.addBias(y.whole, bias: bias.whole, rows: shape.rows, columns: shape.columns, relu: false)
                    backend.multiplyAdd(x0.whole, y.whole, plus: x.whole, into: next.whole)
                    if rounds { backend.pack(next.whole, as: .bf16, into: forwardRounded.whole) }
                    backend.multiply(g.whole, x0.whole, into: gy.whole)
                    backend.multiplyAdd(g.whole, y.whole, plus: gx0.whole, into: gx0.whole)
                    if rounds { backend.pack(gy.whole, as: .bf16, into: backwardRounded.whole) }
                }
                return [y.toArray(), next.toArray(), gy.toArray(), gx0.toArray(),
                        forwardRounded.toArray().map { Float($0) }, backwardRounded.toArray().map { Float($0) }]
            }
            let fused = run(fused: true), apart = run(fused: false)
            for (index, what) in ["y", "next", "dL/dy", "dL/dx0", "rounded next", "rounded dL/dy"].enumerated() where index < 4 || rounds {
                #expect(fused[index] == apart[index], "\(what), rounding \(rounds)")
            }
        }
    }

    @Test(arguments: [(2048, 512, 367), (700, 64, 256), (300, 1, 64)], [1, 3])
    func fusedForwardLeavesTheBitsOfTheOperationsApart(shape: (rows: Int, columns: Int, inputs: Int), threads: Int) {
        guard CPUBackend.bfloat16Implementation != nil else {
            print("skipped the fused bf16 forward: this CPU has no bf16 instructions")
            return
        }
        let backend = CPUBackend(matmulPrecision: .bf16)
        var generator = SeededGenerator(seed: UInt64(shape.rows))
        func rounded(_ count: Int) -> DeviceBuffer<UInt16> {
            let buffer = backend.makeBuffer(UInt16.self, count: count)
            buffer.copy(from: (0..<count).map { _ in BFloat16.nearest(to: Float(generator.nextNormal())) })
            return buffer
        }
        let x = rounded(shape.rows * shape.inputs), w = rounded(shape.columns * shape.inputs)
        let bias = backend.makeFloats(shape.columns)
        bias.copy(from: (0..<shape.columns).map { _ in Float(generator.nextNormal()) })
        for relu in [false, true] {
            func run(fused: Bool) -> ([Float], [UInt16]) {
                let y = backend.makeFloats(shape.rows * shape.columns), packed = backend.makeBuffer(UInt16.self, count: y.count)
                RowThreads.setCount(threads)
                defer { RowThreads.setCount(1) }
                if fused {
                    backend.linearForward(transposeA: false, transposeB: true, m: shape.rows, n: shape.columns, k: shape.inputs,
                                          a: .bf16(x.whole), lda: shape.inputs, b: .bf16(w.whole), ldb: shape.inputs, c: y.whole,
                                          ldc: shape.columns, bias: bias.whole, relu: relu, rounded: packed.whole)
                } else {
                    backend.linearForward(transposeA: false, transposeB: true, m: shape.rows, n: shape.columns, k: shape.inputs,
                                          a: .bf16(x.whole), lda: shape.inputs, b: .bf16(w.whole), ldb: shape.inputs, c: y.whole,
                                          ldc: shape.columns, bias: bias.whole, relu: relu)
                    backend.pack(y.whole, as: .bf16, into: packed.whole)
                }
                return (y.toArray(), packed.toArray())
            }
            let fused = run(fused: true), apart = run(fused: false)
            #expect(fused.0 == apart.0 && fused.1 == apart.1, "relu \(relu)")
            #expect(fused.0.contains(0) == relu)
        }
    }

    @Test(arguments: [(2048, 512), (700, 64), (300, 1), (4096, 200)], [1, 3])
    func fusedEpilogueLeavesTheBitsOfTheOperationsApart(shape: (rows: Int, columns: Int), threads: Int) {
        let backend = CPUBackend()
        let count = shape.rows * shape.columns
        var generator = SeededGenerator(seed: UInt64(count))
        func floats(_ count: Int) -> [Float] { (0..<count).map { _ in Float(generator.nextNormal()) } }
        let gradient = floats(count), output = floats(count), bias = floats(shape.columns)
        for relu in [false, true] {
            func run(fused: Bool) -> [[Float]] {
                let g = backend.makeFloats(count), y = backend.makeFloats(count), sums = backend.makeFloats(shape.columns)
                let rounded = backend.makeBuffer(UInt16.self, count: count)
                g.copy(from: gradient)
                y.copy(from: output)
                sums.copy(from: bias)
                if fused {
                    RowThreads.setCount(threads)
                    defer { RowThreads.setCount(1) }
                    backend.linearBackwardEpilogue(gradient: g.whole, rows: shape.rows, columns: shape.columns,
                                                   reluOutput: relu ? y.whole : nil, biasGradient: sums.whole, rounded: rounded.whole)
                } else {
                    if relu { backend.reluBackward(gradient: g.whole, output: y.whole, count: count) }
                    backend.accumulateColumnSums(g.whole, rows: shape.rows, columns: shape.columns, into: sums.whole)
                    backend.pack(g.whole, as: .bf16, into: rounded.whole)
                }
                return [g.toArray(), sums.toArray(), rounded.toArray().map { Float($0) }]
            }
            let fused = run(fused: true), apart = run(fused: false)
            #expect(fused[0] == apart[0], "masked gradient, relu \(relu)")
            #expect(fused[1] == apart[1], "bias gradient, relu \(relu)")
            #expect(fused[2] == apart[2], "rounded gradient, relu \(relu)")
            #expect(fused[0].contains(0) == relu)
        }
    }
}
