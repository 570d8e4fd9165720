import Compute

/// DCNv2's low-rank cross layers (TorchRec's `LowRankCrossNet`, the interaction of MLPerf's
/// DLRMv2): `x_{l+1} = x0 ⊙ (V_l (U_l x_l) + b_l) + x_l`, with U_l (rank, width) without bias and
/// V_l (width, rank) with bias b_l. Parameters live in the arena; activations are kept for backward.
public final class LowRankCrossNetwork: @unchecked Sendable {
    public let width: Int
    public let rank: Int
    public let layerCount: Int
    public let batchCapacity: Int
    let arena: ParameterArena
    /// Per layer: the arena offsets of U, V and b.
    private let offsets: [(down: Int, up: Int, bias: Int)]
    /// x_1 ... x_L (x_0 is the caller's input), each (B, width).
    private let outputs: [DeviceBuffer<Float>]
    /// Per layer: h_l = x_l U_l^T (B, rank) and y_l = h_l V_l^T + b_l (B, width).
    private let projections: [DeviceBuffer<Float>]
    private let crosses: [DeviceBuffer<Float>]
    /// Backward workspaces: dL/dx_l (running), dL/dy_l, dL/dh_l, and the gradient of x0
    /// through the ⊙ terms.
    private let runningGradient: DeviceBuffer<Float>
    private let crossGradient: DeviceBuffer<Float>
    private let projectionGradient: DeviceBuffer<Float>
    public let inputGradient: DeviceBuffer<Float>
    /// The products' operands (under bf16 matmuls rounded once each): per layer x_l, U_l, h_l and
    /// V_l (slots 4l to 4l + 3), then dL/dy_l and dL/dh_l of the layer being differentiated.
    private let operands: MatmulOperands
    private func slot(_ l: Int, _ operand: Int) -> Int { 4 * l + operand }
    private static let input = 0, down = 1, projection = 2, up = 3
    private var crossGradientSlot: Int { 4 * layerCount }
    private var projectionGradientSlot: Int { 4 * layerCount + 1 }

    /// Reserves `name/layer<l>/down/weight` (rank, width), `up/weight` (width, rank) and
    /// `up/bias` (width) for each layer.
    public init(arena: ParameterArena, name: String, width: Int, rank: Int, layerCount: Int, batchCapacity: Int) {
        precondition(layerCount >= 1 && rank >= 1, "LowRankCrossNetwork: needs a layer and a rank")
        self.arena = arena
        self.width = width
        self.rank = rank
        self.layerCount = layerCount
        self.batchCapacity = batchCapacity
        offsets = (0..<layerCount).map { l in
            (arena.reserve("\(name)/layer\(l)/down/weight", shape: [rank, width]),
             arena.reserve("\(name)/layer\(l)/up/weight", shape: [width, rank]),
             arena.reserve("\(name)/layer\(l)/up/bias", shape: [width]))
        }
        let backend = arena.backend
        outputs = (0..<layerCount).map { _ in backend.makeFloats(batchCapacity * width) }
        projections = (0..<layerCount).map { _ in backend.makeFloats(batchCapacity * rank) }
        crosses = (0..<layerCount).map { _ in backend.makeFloats(batchCapacity * width) }
        runningGradient = backend.makeFloats(batchCapacity * width)
        crossGradient = backend.makeFloats(batchCapacity * width)
        projectionGradient = backend.makeFloats(batchCapacity * rank)
        inputGradient = backend.makeFloats(batchCapacity * width)
        operands = MatmulOperands(backend: backend, slots: 4 * layerCount + 2)
    }

    private var backend: any ComputeBackend { arena.backend }
    /// x_L, (B, width), valid after `forward`.
    public var output: DeviceSlice<Float> { outputs[layerCount - 1].whole }
    /// The arena slice holding every parameter of the cross layers.
    public var parameterRange: Range<Int> { offsets[0].down..<(offsets[layerCount - 1].bias + width) }
    /// Layer l's U (rank, width), V (width, rank) and b (width).
    public func down(_ l: Int) -> DeviceSlice<Float> { arena.value(at: offsets[l].down, count: rank * width) }
    public func up(_ l: Int) -> DeviceSlice<Float> { arena.value(at: offsets[l].up, count: width * rank) }
    public func bias(_ l: Int) -> DeviceSlice<Float> { arena.value(at: offsets[l].bias, count: width) }

    /// U and V ~ N(0, 2/(width + rank)) (TorchRec's Xavier normal), b = 0.
    public func initialize(using generator: inout SeededGenerator) {
        let scale = (2.0 / Double(width + rank)).squareRoot()
        for l in 0..<layerCount {
            for weights in [down(l), up(l)] {
                weights.copy(from: (0..<weights.count).map { _ in Float(generator.nextNormal() * scale) })
            }
        }
    }

    /// x0 (B, width) -> x_L (B, width).
    public func forward(input x0: DeviceSlice<Float>, rows: Int) -> DeviceSlice<Float> {
        precondition(rows <= batchCapacity, "LowRankCrossNetwork: batch of \(rows) exceeds capacity \(batchCapacity)")
        let n = rows * width
        var x = x0.slice(0, n), inputIsRounded = false
        for l in 0..<layerCount {
            let h = projections[l].slice(0, rows * rank), y = crosses[l].slice(0, n), next = outputs[l].slice(0, n)
            let input = inputIsRounded ? operands.reused(slot(l, Self.input), of: x) : operands.operand(x, slot: slot(l, Self.input))
            backend.gemm(transposeA: false, transposeB: true, m: rows, n: rank, k: width, alpha: 1,
                         a: input, lda: width,
                         b: operands.operand(down(l), slot: slot(l, Self.down)), ldb: width, beta: 0, c: h, ldc: rank)
            backend.gemm(transposeA: false, transposeB: true, m: rows, n: width, k: rank, alpha: 1,
                         a: operands.operand(h, slot: slot(l, Self.projection)), lda: rank,
                         b: operands.operand(up(l), slot: slot(l, Self.up)), ldb: rank, beta: 0, c: y, ldc: width)
            // Under bf16 products the next layer's input is rounded in the same pass.
            let rounded = l + 1 < layerCount ? operands.destination(for: next, slot: slot(l + 1, Self.input)) : nil
            backend.crossLayerForward(y: y, bias: bias(l), x0: x0.slice(0, n), x: x, next: next, rows: rows, columns: width,
                                      rounded: rounded)
            x = next
            inputIsRounded = rounded != nil
        }
        return x
    }

    /// Backward from dL/dx_L in `outputGradient`: adds the parameter gradients into the arena
    /// and leaves dL/dx0 in `inputGradient` (returned).
    @discardableResult
    public func backward(input x0: DeviceSlice<Float>, outputGradient: DeviceSlice<Float>, rows: Int) -> DeviceSlice<Float> {
        let n = rows * width
        let gx = runningGradient.slice(0, n), gy = crossGradient.slice(0, n), gh = projectionGradient.slice(0, rows * rank)
        let gx0 = inputGradient.slice(0, n), input = x0.slice(0, n)
        backend.copy(outputGradient.slice(0, n), to: gx)
        backend.fill(gx0, with: 0)
        for l in stride(from: layerCount - 1, through: 0, by: -1) {
            let x = l == 0 ? input : outputs[l - 1].slice(0, n)
            let h = projections[l].slice(0, rows * rank), y = crosses[l].slice(0, n)
            // x_{l+1} = x0 ⊙ y_l + x_l: dL/dy_l = g ⊙ x0, and x0 collects g ⊙ y_l.
            // Under bf16 products dL/dy_l is rounded for the products in the same pass.
            let rounded = operands.destination(for: gy, slot: crossGradientSlot)
            backend.crossLayerBackward(gradient: gx, x0: input, y: y, crossGradient: gy, inputGradient: gx0, rounded: rounded)
            backend.accumulateColumnSums(gy, rows: rows, columns: width, into: arena.gradient(at: offsets[l].bias, count: width))
            // y = h V^T: dV (width, rank) += dy^T h; dh = dy V.
            let dy: MatmulOperand = rounded.map { .bf16($0) } ?? .fp32(gy)
            backend.gemm(transposeA: true, transposeB: false, m: width, n: rank, k: rows, alpha: 1, a: dy, lda: width,
                         b: operands.reused(slot(l, Self.projection), of: h), ldb: rank,
                         beta: 1, c: arena.gradient(at: offsets[l].up, count: width * rank), ldc: rank)
            backend.gemm(transposeA: false, transposeB: false, m: rows, n: rank, k: width, alpha: 1, a: dy, lda: width,
                         b: operands.reused(slot(l, Self.up), of: up(l)), ldb: rank, beta: 0, c: gh, ldc: rank)
            // h = x U^T: dU (rank, width) += dh^T x; dL/dx_l = g + dh U.
            let dh = operands.operand(gh, slot: projectionGradientSlot)
            backend.gemm(transposeA: true, transposeB: false, m: rank, n: width, k: rows, alpha: 1, a: dh, lda: rank,
                         b: operands.reused(slot(l, Self.input), of: x), ldb: width,
                         beta: 1, c: arena.gradient(at: offsets[l].down, count: rank * width), ldc: width)
            backend.gemm(transposeA: false, transposeB: false, m: rows, n: width, k: rank, alpha: 1, a: dh, lda: rank,
                         b: operands.reused(slot(l, Self.down), of: down(l)), ldb: width, beta: 1, c: gx, ldc: width)
        }
        // x_0 is x0 itself: its direct gradient joins the ⊙ terms.
        backend.add(gx, into: gx0)
        return gx0
    }
}
