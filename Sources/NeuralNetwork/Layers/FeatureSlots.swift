import Compute

/// The input side DLRM and DCNv2 share: the bottom MLP over the dense features and the pooled
/// embeddings, side by side in one (B, F, D) buffer — the bottom output in slot 0 and table t in
/// slot t + 1; without dense features there is no bottom MLP and table t is in slot t.
public final class FeatureSlots: @unchecked Sendable {
    public let bottomMLP: MLP?
    public let embeddings: EmbeddingCollection
    public let dimension: Int
    /// F: the bottom output (when there is one) and the tables.
    public let slotCount: Int
    private let backend: any ComputeBackend
    /// (B, F, D).
    public let values: DeviceBuffer<Float>

    /// Reserves the bottom MLP (`bottom_mlp/...`) in `arena` and makes the tables
    /// (`embeddings/table<t>`).
    public init(arena: ParameterArena, denseFeatureCount: Int, bottomWidths: [Int], tableRowCounts: [Int], dimension: Int,
                pooling: Pooling, seed: UInt64, batchCapacity: Int, makeEmbeddings: EmbeddingFactory) throws {
        backend = arena.backend
        self.dimension = dimension
        let hasDense = denseFeatureCount > 0
        bottomMLP = hasDense ? MLP(arena: arena, name: "bottom_mlp", inputSize: denseFeatureCount, widths: bottomWidths,
                                   reluOnLast: true, batchCapacity: batchCapacity, needsInputGradient: false) : nil
        embeddings = try makeEmbeddings(EmbeddingSpecification(name: "embeddings", tableRowCounts: tableRowCounts,
                                                               dimension: dimension, seed: seed, pooling: pooling),
                                        arena.backend, batchCapacity, nil)
        slotCount = tableRowCounts.count + (hasDense ? 1 : 0)
        values = arena.backend.makeFloats(batchCapacity * slotCount * dimension)
    }

    /// F * D: one sample's row.
    public var width: Int { slotCount * dimension }

    /// Table t's pooled vector goes to slot t + 1 (slot t without a bottom MLP).
    private var pooledLayout: PooledLayout {
        PooledLayout(firstOffset: bottomMLP == nil ? 0 : dimension, tableOffset: dimension, rowStride: width)
    }

    /// Fills the slots for the batch in `inputs`; returns them, (B, F, D). The tables' lookup
    /// starts first, so that rows from other ranks travel while the bottom MLP computes (the
    /// DLRM reference's order), then their pooling waits for them.
    public func forward(_ inputs: DeviceBatch) throws -> DeviceSlice<Float> {
        let slots = values.whole
        try embeddings.startLookup(inputs)
        if let bottomMLP {
            let bottom = bottomMLP.forward(input: inputs.dense.whole, rows: inputs.size)
            backend.copyRows(from: bottom, sourceStride: dimension, to: slots, destinationStride: width, rows: inputs.size,
                             columns: dimension)
        }
        try embeddings.forward(inputs, output: slots, layout: pooledLayout)
        return slots
    }

    /// Backward from dL/d(slots) (B, F, D): the tables' gradients (or fused updates), then the
    /// bottom MLP's, added into the arena.
    public func backward(_ inputs: DeviceBatch, slotGradient: DeviceSlice<Float>, mode: EmbeddingBackwardMode) throws {
        try embeddings.backward(inputs, outputGradient: slotGradient, layout: pooledLayout, mode: mode)
        guard let bottomMLP else { return }
        backend.copyRows(from: slotGradient, sourceStride: width, to: bottomMLP.outputGradient, destinationStride: dimension,
                         rows: inputs.size, columns: dimension)
        bottomMLP.backward(input: inputs.dense.whole, rows: inputs.size)
    }
}
