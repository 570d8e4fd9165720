import Compute
import Testing

/// The row-parallel kernels (embedding bags, the dot interaction and its backward, bias with
/// ReLU, ReLU backward) give the same bits on 3 threads as on 1: each thread writes only its
/// own rows, in the order one thread would.
@Suite(.serialized) struct RowThreadsTests {
    @Test func threadsChangeNoBits() {
        let backend = CPUBackend()
        let rows = 1_500, features = 9, dimension = 16, tableRows = 1_000
        var generator = SeededGenerator(seed: 5)
        func floats(_ count: Int) -> DeviceBuffer<Float> {
            let buffer = backend.makeFloats(count)
            buffer.copy(from: (0..<count).map { _ in Float(generator.nextUniform() * 2 - 1) })
            return buffer
        }
        let table = floats(tableRows * dimension)
        // Bags of 0 to 3 ids.
        var offsetValues: [Int32] = [0], idValues: [Int32] = []
        for b in 0..<rows {
            for _ in 0..<(b % 4) { idValues.append(Int32(generator.next() % UInt64(tableRows))) }
            offsetValues.append(Int32(idValues.count))
        }
        let ids = backend.makeIndices(idValues.count), offsets = backend.makeIndices(rows + 1)
        ids.copy(from: idValues)
        offsets.copy(from: offsetValues)
        let bags = EmbeddingBags(ids: ids.whole, offsets: offsets.whole, rows: rows, idCount: idValues.count)
        let shape = InteractionShape(featureCount: features, dimension: dimension, passesFirstSlot: true)
        let interactionInput = floats(rows * shape.inputWidth), outputGradient = floats(rows * shape.outputWidth)
        let bias = floats(shape.outputWidth)

        func run(threads: Int) -> [[Float]] {
            RowThreads.setCount(threads)
            defer { RowThreads.setCount(1) }
            let pooled = backend.makeFloats(rows * dimension)
            backend.embeddingBags(bags, table: table.whole, dimension: dimension, output: pooled.whole, outputStride: dimension,
                                  pooling: .mean)
            let interaction = backend.makeFloats(rows * shape.outputWidth)
            backend.dotInteraction(shape, input: interactionInput.whole, output: interaction.whole, rows: rows)
            let inputGradient = backend.makeFloats(rows * shape.inputWidth)
            backend.dotInteractionBackward(shape, input: interactionInput.whole, outputGradient: outputGradient.whole,
                                           inputGradient: inputGradient.whole, rows: rows)
            backend.addBias(interaction.whole, bias: bias.whole, rows: rows, columns: shape.outputWidth, relu: true)
            let gradient = backend.makeFloats(rows * shape.outputWidth)
            gradient.copy(from: outputGradient.toArray())
            backend.reluBackward(gradient: gradient.whole, output: interaction.whole, count: rows * shape.outputWidth)
            return [pooled.toArray(), interaction.toArray(), inputGradient.toArray(), gradient.toArray()]
        }
        let one = run(threads: 1), three = run(threads: 3)
        #expect(one[0].contains { $0 != 0 } && one[3].contains { $0 != 0 } && one[3].contains { $0 == 0 })
        for (kernel, (a, b)) in zip(["embedding bags", "interaction + bias + ReLU", "interaction backward", "ReLU backward"],
                                    zip(one, three)) {
            #expect(a == b, "\(kernel)")
        }
    }
}
