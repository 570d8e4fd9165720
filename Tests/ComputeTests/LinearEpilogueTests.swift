import Compute
import Testing

/// The fused start of a linear layer's backward (`linearBackwardEpilogue`) leaves the bits the
/// three operations leave one after the other (the protocol's default): the masked gradient,
/// the bias gradient summed row by row, the bf16 rounding; on 1 thread and on 3 (columns split).
@Suite(.serialized) struct LinearEpilogueTests {
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
