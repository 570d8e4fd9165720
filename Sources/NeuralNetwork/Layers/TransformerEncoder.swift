import Compute

/// A stack of post-norm transformer encoder blocks (Vaswani et al.; BST's behaviour-sequence
/// layer) over padded sequences:
///
///     H1 = X + Wo · attention(Wq X, Wk X, Wv X)     Y1 = LayerNorm(H1)
///     H2 = Y1 + W2 · relu(W1 Y1)                     Y  = LayerNorm(H2)
///
/// Rows are positions: (sequences·length, width), a sequence's positions consecutive. A sequence's
/// valid positions are its last `lengths[s]`; attention never looks at the padding before them.
/// Parameters live in the arena; activations are kept for backward.
public final class TransformerEncoder: @unchecked Sendable {
    public let width: Int
    public let heads: Int
    public let length: Int
    public let feedForwardWidth: Int
    /// Sequences a forward can take.
    public let sequenceCapacity: Int
    let arena: ParameterArena
    private let blocks: [Block]
    /// The first arena offset this encoder reserved.
    private let firstOffset: Int
    /// Backward workspaces shared by the blocks (rows × width unless noted).
    private let normalizedGradient: DeviceBuffer<Float>
    private let residualGradient: DeviceBuffer<Float>
    private let hiddenGradient: DeviceBuffer<Float>
    private let attendedGradient: DeviceBuffer<Float>
    private let queryGradient: DeviceBuffer<Float>
    private let keyGradient: DeviceBuffer<Float>
    private let valueGradient: DeviceBuffer<Float>
    private let partialGradient: DeviceBuffer<Float>
    /// dL/d(input of a block), alternating between the two as backward goes down the stack.
    private let inputGradients: [DeviceBuffer<Float>]
    private static let epsilon: Float = 1e-5

    /// One block's parameters (as layers and arena offsets) and activations.
    private final class Block {
        let query, key, value, projection, expand, contract: Linear
        /// Arena offsets of the two layer norms' gain and shift.
        let norms: [(gamma: Int, beta: Int)]
        let queries, keys, values, attended, projected, residual1, normalized1, hidden, contracted, residual2, output: DeviceBuffer<Float>
        let probabilities: DeviceBuffer<Float>
        /// Per norm: each row's mean and inverse deviation.
        let statistics: [(means: DeviceBuffer<Float>, inverseDeviations: DeviceBuffer<Float>)]

        init(arena: ParameterArena, name: String, width: Int, feedForwardWidth: Int, rows: Int, probabilityCount: Int) {
            query = Linear(arena: arena, name: "\(name)/attention/query", inputSize: width, outputSize: width, appliesReLU: false)
            // No key bias: it adds q·b to every score of a query, which the softmax cancels.
            key = Linear(arena: arena, name: "\(name)/attention/key", inputSize: width, outputSize: width, appliesReLU: false,
                         hasBias: false)
            value = Linear(arena: arena, name: "\(name)/attention/value", inputSize: width, outputSize: width, appliesReLU: false)
            projection = Linear(arena: arena, name: "\(name)/attention/output", inputSize: width, outputSize: width, appliesReLU: false)
            expand = Linear(arena: arena, name: "\(name)/feed_forward/layer0", inputSize: width, outputSize: feedForwardWidth,
                            appliesReLU: true)
            contract = Linear(arena: arena, name: "\(name)/feed_forward/layer1", inputSize: feedForwardWidth, outputSize: width,
                              appliesReLU: false)
            norms = (1...2).map { n in
                (arena.reserve("\(name)/norm\(n)/gamma", shape: [width]), arena.reserve("\(name)/norm\(n)/beta", shape: [width]))
            }
            let backend = arena.backend
            func activation(_ columns: Int = width) -> DeviceBuffer<Float> { backend.makeFloats(rows * columns) }
            queries = activation(); keys = activation(); values = activation(); attended = activation()
            projected = activation(); residual1 = activation(); normalized1 = activation()
            hidden = activation(feedForwardWidth); contracted = activation(); residual2 = activation(); output = activation()
            probabilities = backend.makeFloats(probabilityCount)
            statistics = (0..<2).map { _ in (backend.makeFloats(rows), backend.makeFloats(rows)) }
        }
    }

    /// Reserves, per block l, `name/block<l>/attention/{query,key,value,output}/{weight,bias}` (the
    /// key without bias),
    /// `feed_forward/layer{0,1}/{weight,bias}` and `norm{1,2}/{gamma,beta}`.
    public init(arena: ParameterArena, name: String, width: Int, heads: Int, feedForwardWidth: Int, blockCount: Int,
                length: Int, sequenceCapacity: Int) {
        precondition(blockCount >= 1 && heads >= 1 && width % heads == 0,
                     "TransformerEncoder: needs a block and a width divisible by the heads")
        self.arena = arena
        self.width = width
        self.heads = heads
        self.length = length
        self.feedForwardWidth = feedForwardWidth
        self.sequenceCapacity = sequenceCapacity
        let rows = sequenceCapacity * length
        let probabilityCount = sequenceCapacity * heads * length * length
        blocks = (0..<blockCount).map {
            Block(arena: arena, name: "\(name)/block\($0)", width: width, feedForwardWidth: feedForwardWidth, rows: rows,
                  probabilityCount: probabilityCount)
        }
        firstOffset = blocks[0].query.parameterRange.lowerBound
        let backend = arena.backend
        normalizedGradient = backend.makeFloats(rows * width)
        residualGradient = backend.makeFloats(rows * width)
        hiddenGradient = backend.makeFloats(rows * feedForwardWidth)
        attendedGradient = backend.makeFloats(rows * width)
        queryGradient = backend.makeFloats(rows * width)
        keyGradient = backend.makeFloats(rows * width)
        valueGradient = backend.makeFloats(rows * width)
        partialGradient = backend.makeFloats(rows * width)
        inputGradients = (0..<2).map { _ in backend.makeFloats(rows * width) }
    }

    private var backend: any ComputeBackend { arena.backend }
    /// The arena slice holding every parameter of the encoder (valid after the arena's other
    /// reservations: it runs to the last one made by this encoder).
    public var parameterRange: Range<Int> {
        let last = blocks[blocks.count - 1].norms[1].beta
        return firstOffset..<(last + width)
    }

    /// One block's parameters, for export.
    public struct BlockParameters {
        public let query, key, value, output, expand, contract: Linear
        /// The attention's and the feed-forward network's layer norms: gain and shift.
        public let norms: [(gamma: DeviceSlice<Float>, beta: DeviceSlice<Float>)]
    }

    public var blockCount: Int { blocks.count }

    public func parameters(ofBlock index: Int) -> BlockParameters {
        let block = blocks[index]
        return BlockParameters(query: block.query, key: block.key, value: block.value, output: block.projection,
                               expand: block.expand, contract: block.contract,
                               norms: (0..<2).map { (gamma(block, $0), beta(block, $0)) })
    }

    /// The layer norms' epsilon.
    public var normEpsilon: Float { Self.epsilon }

    private func gamma(_ block: Block, _ n: Int) -> DeviceSlice<Float> { arena.value(at: block.norms[n].gamma, count: width) }
    private func beta(_ block: Block, _ n: Int) -> DeviceSlice<Float> { arena.value(at: block.norms[n].beta, count: width) }

    /// Linear layers as `Linear.initialize`; layer norms start as the identity (gain 1, shift 0).
    public func initialize(using generator: inout SeededGenerator) {
        for block in blocks {
            for layer in [block.query, block.key, block.value, block.projection, block.expand, block.contract] {
                layer.initialize(using: &generator)
            }
            for n in 0..<2 { backend.fill(gamma(block, n), with: 1); backend.fill(beta(block, n), with: 0) }
        }
    }

    private func shape(_ sequences: Int) -> AttentionShape {
        AttentionShape(sequences: sequences, length: length, heads: heads, headDimension: width / heads)
    }

    /// The last block's output, (sequences·length, width), valid after `forward`.
    public var output: DeviceSlice<Float> { blocks[blocks.count - 1].output.whole }

    /// Runs the blocks over `input` (sequences·length, width) with `lengths` valid positions per
    /// sequence; returns `output`.
    @discardableResult
    public func forward(input: DeviceSlice<Float>, lengths: DeviceSlice<Int32>, sequences: Int) -> DeviceSlice<Float> {
        precondition(sequences <= sequenceCapacity, "TransformerEncoder: \(sequences) sequences exceed \(sequenceCapacity)")
        let rows = sequences * length
        var x = input
        for block in blocks {
            block.query.forward(input: x, output: block.queries.whole, rows: rows)
            block.key.forward(input: x, output: block.keys.whole, rows: rows)
            block.value.forward(input: x, output: block.values.whole, rows: rows)
            backend.attention(shape(sequences), queries: block.queries.whole, keys: block.keys.whole, values: block.values.whole,
                              lengths: lengths, probabilities: block.probabilities.whole, output: block.attended.whole)
            block.projection.forward(input: block.attended.whole, output: block.projected.whole, rows: rows)
            addResidual(x, block.projected.whole, into: block.residual1.whole, count: rows * width)
            normalize(block, 0, input: block.residual1.whole, output: block.normalized1.whole, rows: rows)
            block.expand.forward(input: block.normalized1.whole, output: block.hidden.whole, rows: rows)
            block.contract.forward(input: block.hidden.whole, output: block.contracted.whole, rows: rows)
            addResidual(block.normalized1.whole, block.contracted.whole, into: block.residual2.whole, count: rows * width)
            normalize(block, 1, input: block.residual2.whole, output: block.output.whole, rows: rows)
            x = block.output.whole
        }
        return output
    }

    /// Backward from dL/d(output) (only read) through the batch of the last forward over `input`.
    /// Adds into the arena's gradients and returns dL/d(input), (sequences·length, width).
    public func backward(input: DeviceSlice<Float>, outputGradient: DeviceSlice<Float>, lengths: DeviceSlice<Int32>,
                         sequences: Int) -> DeviceSlice<Float> {
        let rows = sequences * length, count = rows * width
        var gradient = outputGradient
        for (index, block) in blocks.enumerated().reversed() {
            let x = index == 0 ? input : blocks[index - 1].output.whole
            let inputGradient = inputGradients[index % 2].whole
            // The second norm and the feed-forward network, with its residual.
            normalizeBackward(block, 1, input: block.residual2.whole, outputGradient: gradient,
                              inputGradient: residualGradient.whole, rows: rows)
            block.contract.backward(input: block.hidden.whole, output: block.contracted.whole,
                                    outputGradient: residualGradient.whole, inputGradient: hiddenGradient.whole, rows: rows)
            block.expand.backward(input: block.normalized1.whole, output: block.hidden.whole,
                                  outputGradient: hiddenGradient.whole, inputGradient: partialGradient.whole, rows: rows)
            backend.add(residualGradient.slice(0, count), into: partialGradient.slice(0, count))
            // The first norm and the attention, with its residual.
            normalizeBackward(block, 0, input: block.residual1.whole, outputGradient: partialGradient.whole,
                              inputGradient: normalizedGradient.whole, rows: rows)
            block.projection.backward(input: block.attended.whole, output: block.projected.whole,
                                      outputGradient: normalizedGradient.whole, inputGradient: attendedGradient.whole, rows: rows)
            backend.attentionBackward(shape(sequences), queries: block.queries.whole, keys: block.keys.whole,
                                      values: block.values.whole, lengths: lengths, probabilities: block.probabilities.whole,
                                      outputGradient: attendedGradient.whole, queryGradient: queryGradient.whole,
                                      keyGradient: keyGradient.whole, valueGradient: valueGradient.whole)
            block.query.backward(input: x, output: block.queries.whole, outputGradient: queryGradient.whole,
                                 inputGradient: inputGradient, rows: rows)
            block.key.backward(input: x, output: block.keys.whole, outputGradient: keyGradient.whole,
                               inputGradient: partialGradient.whole, rows: rows)
            backend.add(partialGradient.slice(0, count), into: inputGradient.prefix(count))
            block.value.backward(input: x, output: block.values.whole, outputGradient: valueGradient.whole,
                                 inputGradient: partialGradient.whole, rows: rows)
            backend.add(partialGradient.slice(0, count), into: inputGradient.prefix(count))
            backend.add(normalizedGradient.slice(0, count), into: inputGradient.prefix(count))
            gradient = inputGradient
        }
        return gradient
    }

    /// `destination = a + b` (the residual connections).
    private func addResidual(_ a: DeviceSlice<Float>, _ b: DeviceSlice<Float>, into destination: DeviceSlice<Float>, count: Int) {
        backend.copy(a.prefix(count), to: destination.prefix(count))
        backend.add(b.prefix(count), into: destination.prefix(count))
    }

    private func normalize(_ block: Block, _ n: Int, input: DeviceSlice<Float>, output: DeviceSlice<Float>, rows: Int) {
        backend.layerNorm(input: input, gamma: gamma(block, n), beta: beta(block, n), output: output,
                          means: block.statistics[n].means.whole, inverseDeviations: block.statistics[n].inverseDeviations.whole,
                          rows: rows, width: width, epsilon: Self.epsilon)
    }

    private func normalizeBackward(_ block: Block, _ n: Int, input: DeviceSlice<Float>, outputGradient: DeviceSlice<Float>,
                                   inputGradient: DeviceSlice<Float>, rows: Int) {
        backend.layerNormBackward(input: input, gamma: gamma(block, n), means: block.statistics[n].means.whole,
                                  inverseDeviations: block.statistics[n].inverseDeviations.whole, outputGradient: outputGradient,
                                  inputGradient: inputGradient,
                                  gammaGradient: arena.gradient(at: block.norms[n].gamma, count: width),
                                  betaGradient: arena.gradient(at: block.norms[n].beta, count: width), rows: rows, width: width)
    }
}
