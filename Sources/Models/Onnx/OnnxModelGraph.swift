import Compute
import NeuralNetwork
import Protos

/// The inference graph of a trained model, layer by layer, with its weights copied to the host.
///
/// Inputs: `dense` float32 [N, dense features] (absent without dense features) and `ids` int64
/// [N, tables, bag] holding each table's row ids, -1 where a bag is shorter than `bag`. Output:
/// `probability` float32 [N, 1], the sigmoid of the logit; with several tasks one output per
/// task, `probability_<task>` (a binary task's) or `prediction_<task>` (a regression's value).
public struct OnnxModelGraph {
    var builder = OnnxGraphBuilder(name: "recsys-dist")
    let denseFeatureCount: Int
    let tableCount: Int
    let tasks: [PredictionTask]
    /// A retriever's user vector width: its graph is the user tower, its output `user_vector`.
    let userVectorWidth: Int?
    /// Per table: [N, bag] ids with -1 replaced by 0, and [N, bag, 1] 1/0 floats of which are real.
    private var tableIDs: [(ids: String, mask: String)?]

    public init(denseFeatureCount: Int, tableCount: Int, tasks: [PredictionTask] = [.click], userVectorWidth: Int? = nil) {
        self.denseFeatureCount = denseFeatureCount
        self.tableCount = tableCount
        self.tasks = tasks
        self.userVectorWidth = userVectorWidth
        tableIDs = Array(repeating: nil, count: tableCount)
        if denseFeatureCount > 0 {
            builder.addInput(OnnxGraphBuilder.valueInfo("dense", type: .float, shape: [-1, denseFeatureCount], symbols: ["N", ""]))
        }
        builder.addInput(OnnxGraphBuilder.valueInfo("ids", type: .int64, shape: [-1, tableCount, -1], symbols: ["N", "", "bag"]))
        for name in Self.outputNames(tasks, retriever: userVectorWidth != nil) {
            builder.addOutput(OnnxGraphBuilder.valueInfo(name, type: .float, shape: [-1, userVectorWidth ?? 1], symbols: ["N", ""]))
        }
    }

    var dense: String { "dense" }

    /// The graph's outputs: `probability` for a single binary task, else one per task; a
    /// retriever's `user_vector`.
    public static func outputNames(_ tasks: [PredictionTask], retriever: Bool = false) -> [String] {
        if retriever { return ["user_vector"] }
        if tasks.count == 1 && tasks[0].kind == .binary { return ["probability"] }
        return tasks.map { ($0.kind == .binary ? "probability_" : "prediction_") + $0.name }
    }

    /// Ends the graph: each binary task's `probability = sigmoid(logit)`, each regression's
    /// value as it is, from the model's outputs [N, tasks].
    public mutating func finish(logit: String) -> Onnx_GraphProto {
        if userVectorWidth != nil {
            _ = builder.node("Identity", [logit], output: "user_vector")
            return builder.graph
        }
        let names = Self.outputNames(tasks)
        guard tasks.count > 1 else {
            _ = builder.node(tasks[0].kind == .binary ? "Sigmoid" : "Identity", [logit], output: names[0])
            return builder.graph
        }
        for (k, task) in tasks.enumerated() {
            _ = builder.node(task.kind == .binary ? "Sigmoid" : "Identity", [column(logit, k)], output: names[k])
        }
        return builder.graph
    }

    // MARK: Layers

    /// x W^T + b, then ReLU when the layer has it; without inputs, the bias for every row of `rows`.
    mutating func linear(_ layer: Linear, name: String, input: String?, rowsLike: String) -> String {
        let bias = builder.weight("\(name)/bias", shape: [layer.outputSize], values: layer.bias.toArray())
        var output: String
        if let input, layer.inputSize > 0 {
            let weight = builder.weight("\(name)/weight", shape: [layer.outputSize, layer.inputSize], values: layer.weight.toArray())
            output = builder.node("Gemm", [input, weight, bias], [OnnxAttribute.int("transB", 1)])
        } else {
            // [N, 1] zeros from any [N, ...] value, plus the bias.
            let firstColumn = builder.node("Slice", [rowsLike, builder.constant("start", int64: [0], shape: [1]),
                                                     builder.constant("end", int64: [1], shape: [1]),
                                                     builder.constant("axis", int64: [1], shape: [1])])
            let zeros = builder.node("Mul", [builder.node("Cast", [firstColumn], [OnnxAttribute.int("to", 1)]),
                                             builder.constant("zero", float: 0)])
            output = builder.node("Add", [builder.node("Reshape", [zeros, builder.constant("shape", int64: [-1, 1], shape: [2])]), bias])
        }
        if layer.appliesReLU { output = builder.node("Relu", [output]) }
        return output
    }

    mutating func mlp(_ mlp: MLP, name: String, input: String) -> String {
        var x = input
        for (index, layer) in mlp.layers.enumerated() { x = linear(layer, name: "\(name)/layer\(index)", input: x, rowsLike: input) }
        return x
    }

    /// Table t's ids without padding, and the mask of real ids (computed once per table).
    mutating func ids(ofTable t: Int) -> (ids: String, mask: String) {
        if let known = tableIDs[t] { return known }
        let raw = builder.node("Gather", ["ids", builder.constant("table", int64: [Int64(t)], shape: [])], [OnnxAttribute.int("axis", 1)])
        let zero = builder.constant("zero", int64: [0], shape: [])
        let real = builder.node("GreaterOrEqual", [raw, zero])
        let mask = builder.node("Unsqueeze", [builder.node("Cast", [real], [OnnxAttribute.int("to", 1)]),
                                              builder.constant("axes", int64: [2], shape: [1])])
        let known = (ids: builder.node("Max", [raw, zero]), mask: mask)
        tableIDs[t] = known
        return known
    }

    /// Table t's pooled bags, [N, dimension]: Gather of the rows, masked, summed (or averaged).
    mutating func embeddingBag(_ table: EmbeddingTable, tableIndex t: Int) -> String {
        let weights = builder.weight("\(table.name)/weights", shape: [table.rowCount, table.dimension], values: table.readRows(0..<table.rowCount))
        let (ids, mask) = ids(ofTable: t)
        let rows = builder.node("Gather", [weights, ids], [OnnxAttribute.int("axis", 0)])
        let axes = builder.constant("axes", int64: [1], shape: [1])
        let sum = builder.node("ReduceSum", [builder.node("Mul", [rows, mask]), axes], [OnnxAttribute.int("keepdims", 0)])
        guard table.pooling == .mean else { return sum }
        let count = builder.node("ReduceSum", [mask, axes], [OnnxAttribute.int("keepdims", 0)])
        return builder.node("Div", [sum, builder.node("Max", [count, builder.constant("one", float: 1)])])
    }

    /// Every table of a collection (held whole by this process), pooled, in table order; table i
    /// reads the ids of input table `inputTables[i]` (by default, i).
    mutating func embeddingBags(_ collection: EmbeddingCollection, inputTables: [Int]? = nil) -> [String] {
        collection.localTables.enumerated().map { i, table in embeddingBag(table, tableIndex: inputTables?[i] ?? i) }
    }

    /// [N, count * dimension] -> [N, count, dimension].
    mutating func split(_ x: String, count: Int, dimension: Int) -> String {
        builder.node("Reshape", [x, builder.constant("shape", int64: [-1, Int64(count), Int64(dimension)], shape: [3])])
    }

    /// Column k of [N, columns] `x`, as [N, 1].
    mutating func column(_ x: String, _ k: Int) -> String {
        builder.node("Slice", [x, builder.constant("start", int64: [Int64(k)], shape: [1]),
                               builder.constant("end", int64: [Int64(k + 1)], shape: [1]),
                               builder.constant("axis", int64: [1], shape: [1])])
    }

    mutating func concat(_ values: [String]) -> String {
        values.count == 1 ? values[0] : builder.node("Concat", values, [OnnxAttribute.int("axis", 1)])
    }

    mutating func add(_ a: String, _ b: String) -> String { builder.node("Add", [a, b]) }

    /// Each row of [N, width] `x` divided by its L2 norm.
    mutating func normalizedRows(_ x: String) -> String {
        builder.node("LpNormalization", [x], [OnnxAttribute.int("axis", 1), OnnxAttribute.int("p", 2)])
    }

    /// The element-wise sum of several values of one shape.
    mutating func sum(_ values: [String]) -> String { builder.node("Sum", values) }

    /// DLRM's dot interaction of the slots: [slot 0,] then <z_i, z_j> for j < i ordered by i then j.
    mutating func dotInteraction(_ interaction: DotInteraction, slots: [String]) -> String {
        let f = interaction.featureCount, d = interaction.dimension
        let z = split(concat(slots), count: f, dimension: d)
        let products = builder.node("MatMul", [z, builder.node("Transpose", [z], [OnnxAttribute.ints("perm", [0, 2, 1])])])
        let flat = builder.node("Reshape", [products, builder.constant("shape", int64: [-1, Int64(f * f)], shape: [2])])
        var pairs: [Int64] = []
        for i in 1..<max(f, 1) { for j in 0..<i { pairs.append(Int64(i * f + j)) } }
        let dots = builder.node("Gather", [flat, builder.constant("pairs", int64: pairs, shape: [pairs.count])],
                                [OnnxAttribute.int("axis", 1)])
        return interaction.shape.passesFirstSlot ? concat([slots[0], dots]) : dots
    }

    /// DCNv2's cross layers: x_{l+1} = x0 * (V_l (U_l x_l) + b_l) + x_l.
    mutating func cross(_ cross: LowRankCrossNetwork, name: String, input x0: String) -> String {
        var x = x0
        for l in 0..<cross.layerCount {
            let down = builder.weight("\(name)/layer\(l)/down/weight", shape: [cross.rank, cross.width], values: cross.down(l).toArray())
            let up = builder.weight("\(name)/layer\(l)/up/weight", shape: [cross.width, cross.rank], values: cross.up(l).toArray())
            let bias = builder.weight("\(name)/layer\(l)/up/bias", shape: [cross.width], values: cross.bias(l).toArray())
            let h = builder.node("Gemm", [x, down], [OnnxAttribute.int("transB", 1)])
            let y = builder.node("Gemm", [h, up, bias], [OnnxAttribute.int("transB", 1)])
            x = builder.node("Add", [builder.node("Mul", [x0, y]), x])
        }
        return x
    }

    /// ½ Σ_k((Σ_f v_fk)² − Σ_f v_fk²) over the pooled vectors, [N, 1].
    mutating func factorizationMachine(_ pooled: [String], dimension: Int) -> String {
        let v = split(concat(pooled), count: pooled.count, dimension: dimension)
        let axes = builder.constant("axes", int64: [1], shape: [1])
        let sums = builder.node("ReduceSum", [v, axes], [OnnxAttribute.int("keepdims", 0)])
        let squares = builder.node("ReduceSum", [builder.node("Mul", [v, v]), axes], [OnnxAttribute.int("keepdims", 0)])
        let difference = builder.node("Sub", [builder.node("Mul", [sums, sums]), squares])
        let total = builder.node("ReduceSum", [difference, axes], [OnnxAttribute.int("keepdims", 1)])
        return builder.node("Mul", [total, builder.constant("half", float: 0.5)])
    }
}
