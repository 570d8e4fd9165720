import Compute
import NeuralNetwork

/// BST's sequence side as ONNX operators: the behaviour sequence laid out by position, and the
/// transformer encoder blocks over it.
extension OnnxModelGraph {
    /// Input table t's bags laid out as `length` positions, right-aligned as `SequencePositions`
    /// does (a bag's last id at the last position, a longer bag's last `length` ids): the rows
    /// plus `positions` [length, D], [N, length, D]; and the attention's key mask [N, 1, 1, length]
    /// (the positions holding an id, at least the last one).
    mutating func sequence(_ table: EmbeddingTable, tableIndex t: Int, length: Int, positions: [Float]) -> (x: String, keyMask: String) {
        let weights = builder.weight("\(table.name)/weights", shape: [table.rowCount, table.dimension], values: table.readRows(0..<table.rowCount))
        let positionWeights = builder.weight("position_embeddings", shape: [length, table.dimension], values: positions)
        let raw = builder.node("Gather", ["ids", builder.constant("table", int64: [Int64(t)], shape: [])], [OnnxAttribute.int("axis", 1)])
        let zero = builder.constant("zero", int64: [0], shape: [])
        let padded = builder.node("Max", [raw, zero])
        // k ids per bag (the padding -1 follows them): position p takes id k - length + p.
        let count = builder.node("ReduceSum", [builder.node("Cast", [builder.node("GreaterOrEqual", [raw, zero])], [OnnxAttribute.int("to", 7)]),
                                               builder.constant("axes", int64: [1], shape: [1])], [OnnxAttribute.int("keepdims", 1)])
        let offsets = builder.constant("position_offsets", int64: (0..<length).map { Int64($0 - length) }, shape: [length])
        let source = builder.node("Add", [count, offsets])
        let holdsID = builder.node("GreaterOrEqual", [source, zero])
        let lastColumn = builder.node("Sub", [builder.node("Slice", [builder.node("Shape", [raw]), builder.constant("start", int64: [1], shape: [1]),
                                                                      builder.constant("end", int64: [2], shape: [1])]),
                                              builder.constant("one", int64: [1], shape: [1])])
        let clamped = builder.node("Min", [builder.node("Max", [source, zero]), lastColumn])
        let rows = builder.node("Gather", [weights, builder.node("GatherElements", [padded, clamped], [OnnxAttribute.int("axis", 1)])],
                                [OnnxAttribute.int("axis", 0)])
        let filled = builder.node("Unsqueeze", [builder.node("Cast", [holdsID], [OnnxAttribute.int("to", 1)]),
                                                builder.constant("axes", int64: [2], shape: [1])])
        let x = builder.node("Add", [builder.node("Mul", [rows, filled]), positionWeights])
        // Keys: the positions holding an id, or the last one alone for an empty bag.
        let atLeastOne = builder.node("Max", [count, builder.constant("one", int64: [1], shape: [])])
        let keys = builder.node("GreaterOrEqual", [builder.node("Add", [atLeastOne, offsets]), zero])
        let keyMask = builder.node("Unsqueeze", [keys, builder.constant("axes", int64: [1, 2], shape: [2])])
        return (x, keyMask)
    }

    /// The encoder's blocks over x [N, length, D] with the key mask; the last block's output at
    /// the last (the candidate's) position, [N, D].
    mutating func transformer(_ encoder: TransformerEncoder, name: String, input: String, keyMask: String) -> String {
        let width = encoder.width, heads = encoder.heads, headWidth = width / heads
        var x = input
        for index in 0..<encoder.blockCount {
            let block = encoder.parameters(ofBlock: index), prefix = "\(name)/block\(index)"
            func split(_ value: String, _ permutation: [Int]) -> String {
                let shaped = builder.node("Reshape", [value, builder.constant("shape", int64: [0, 0, Int64(heads), Int64(headWidth)], shape: [4])])
                return builder.node("Transpose", [shaped], [OnnxAttribute.ints("perm", permutation)])
            }
            let queries = split(projection(block.query, name: "\(prefix)/attention/query", input: x), [0, 2, 1, 3])
            let keys = split(projection(block.key, name: "\(prefix)/attention/key", input: x), [0, 2, 3, 1])
            let values = split(projection(block.value, name: "\(prefix)/attention/value", input: x), [0, 2, 1, 3])
            let scores = builder.node("Mul", [builder.node("MatMul", [queries, keys]),
                                              builder.constant("scale", float: 1 / Float(headWidth).squareRoot())])
            let masked = builder.node("Where", [keyMask, scores, builder.constant("masked", float: -.infinity)])
            let attended = builder.node("MatMul", [builder.node("Softmax", [masked], [OnnxAttribute.int("axis", -1)]), values])
            let merged = builder.node("Reshape", [builder.node("Transpose", [attended], [OnnxAttribute.ints("perm", [0, 2, 1, 3])]),
                                                  builder.constant("shape", int64: [0, 0, Int64(width)], shape: [3])])
            let projected = projection(block.output, name: "\(prefix)/attention/output", input: merged)
            let normalized = layerNorm(builder.node("Add", [x, projected]), block.norms[0], name: "\(prefix)/norm1",
                                       epsilon: encoder.normEpsilon)
            let hidden = projection(block.expand, name: "\(prefix)/feed_forward/layer0", input: normalized)
            let contracted = projection(block.contract, name: "\(prefix)/feed_forward/layer1", input: hidden)
            x = layerNorm(builder.node("Add", [normalized, contracted]), block.norms[1], name: "\(prefix)/norm2",
                          epsilon: encoder.normEpsilon)
        }
        return builder.node("Gather", [x, builder.constant("last", int64: [Int64(encoder.length - 1)], shape: [])],
                            [OnnxAttribute.int("axis", 1)])
    }

    /// x W^T (+ b) (then ReLU when the layer has it) over the last axis of x [..., in].
    private mutating func projection(_ layer: Linear, name: String, input: String) -> String {
        let w = layer.weight.toArray(), rows = layer.outputSize, columns = layer.inputSize
        let transposed = (0..<(rows * columns)).map { i in w[(i % rows) * columns + i / rows] }
        var output = builder.node("MatMul", [input, builder.weight("\(name)/weight", shape: [columns, rows], values: transposed)])
        if layer.hasBias {
            output = builder.node("Add", [output, builder.weight("\(name)/bias", shape: [rows], values: layer.bias.toArray())])
        }
        return layer.appliesReLU ? builder.node("Relu", [output]) : output
    }

    private mutating func layerNorm(_ x: String, _ parameters: (gamma: DeviceSlice<Float>, beta: DeviceSlice<Float>), name: String,
                                    epsilon: Float) -> String {
        let count = parameters.gamma.count
        return builder.node("LayerNormalization",
                            [x, builder.weight("\(name)/gamma", shape: [count], values: parameters.gamma.toArray()),
                             builder.weight("\(name)/beta", shape: [count], values: parameters.beta.toArray())],
                            [OnnxAttribute.int("axis", -1), OnnxAttribute.float("epsilon", epsilon)])
    }
}
