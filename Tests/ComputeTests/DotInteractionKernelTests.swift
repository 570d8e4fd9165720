import Compute
import Testing
import TestSupport

/// The dot interaction's kernels give the bits of the plain loops of its definition: each dot
/// summed over the dimension in order (forward), each input gradient summed over the other
/// features in order (backward): their register blocking changes no value, on shapes that
/// leave every remainder (features odd and even, dimensions below, at and past a multiple of 8).
@Suite struct DotInteractionKernelTests {
    @Test(arguments: [(27, 16, true), (26, 16, false), (9, 8, true), (6, 9, true), (5, 3, false), (2, 16, true), (17, 24, true)])
    func kernelsGiveTheBitsOfThePlainLoops(features f: Int, dimension d: Int, passesFirstSlot: Bool) {
        let backend = CPUBackend()
        let shape = InteractionShape(featureCount: f, dimension: d, passesFirstSlot: passesFirstSlot)
        let rows = 5
        var generator = SeededGenerator(seed: UInt64(f * 100 + d))
        let z = (0..<(rows * shape.inputWidth)).map { _ in Float(generator.nextNormal()) }
        let g = (0..<(rows * shape.outputWidth)).map { _ in Float(generator.nextNormal()) }
        let input = backend.makeFloats(z.count), output = backend.makeFloats(g.count)
        let outputGradient = backend.makeFloats(g.count), inputGradient = backend.makeFloats(z.count)
        input.copy(from: z)
        outputGradient.copy(from: g)
        backend.dotInteraction(shape, input: input.whole, output: output.whole, rows: rows)
        backend.dotInteractionBackward(shape, input: input.whole, outputGradient: outputGradient.whole,
                                       inputGradient: inputGradient.whole, rows: rows)
        var forward = [Float](repeating: 0, count: g.count), backward = [Float](repeating: 0, count: z.count)
        func pair(_ i: Int, _ j: Int) -> Int { shape.pairsOffset + i * (i - 1) / 2 + j }  // i > j
        for b in 0..<rows {
            let zb = b * shape.inputWidth, ob = b * shape.outputWidth
            if passesFirstSlot { for k in 0..<d { forward[ob + k] = z[zb + k] } }
            for i in 0..<f {
                for j in 0..<i {
                    var dot: Float = 0
                    for k in 0..<d { dot = dot + z[zb + i * d + k] * z[zb + j * d + k] }
                    forward[ob + pair(i, j)] = dot
                }
                for k in 0..<d {
                    var sum: Float = i == 0 && passesFirstSlot ? g[ob + k] : 0
                    for j in 0..<f where j != i { sum = sum + g[ob + pair(max(i, j), min(i, j))] * z[zb + j * d + k] }
                    backward[zb + i * d + k] = sum
                }
            }
        }
        #expect(output.toArray() == forward, "forward of \(f) x \(d)")
        #expect(inputGradient.toArray() == backward, "backward of \(f) x \(d)")
    }
}
