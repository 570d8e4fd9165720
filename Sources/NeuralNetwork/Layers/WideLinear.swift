import Compute

/// The wide part of Wide&Deep: a linear model over sparse ids and dense features,
/// `logit[b] = sum_t w_t[ids of b in table t] + dense[b] . v + c`.
///
/// The per-id weights are width-1 embedding tables (sparse updates, never all-reduced); `v` and
/// `c` live in the dense arena. Everything starts at zero, as in the reference.
public final class WideLinear: @unchecked Sendable {
    /// Width-1 tables: one weight per id.
    public let embeddings: EmbeddingCollection
    public let dense: Linear
    private let output: DeviceBuffer<Float>

    /// - Parameter sameFeaturesAs: the deep part's tables (over the same features), when any.
    public init(arena: ParameterArena, name: String, denseFeatureCount: Int, tableRowCounts: [Int],
                batchCapacity: Int, sameFeaturesAs: EmbeddingCollection? = nil,
                makeEmbeddings: EmbeddingFactory = LocalEmbeddings.make) throws {
        embeddings = try makeEmbeddings(EmbeddingSpecification(name: name, tableRowCounts: tableRowCounts, dimension: 1,
                                                               seed: nil), arena.backend, batchCapacity,
                                        sameFeaturesAs)
        dense = Linear(arena: arena, name: "\(name)/dense", inputSize: denseFeatureCount, outputSize: 1,
                       appliesReLU: false)
        output = arena.backend.makeFloats(batchCapacity)
    }

    /// logits (B) of the wide part; valid until the next call.
    public func forward(_ batch: DeviceBatch) throws -> DeviceSlice<Float> {
        dense.forward(input: batch.dense.whole, output: output.whole, rows: batch.size)
        try embeddings.forwardSum(batch, output: output.whole)
        return output.slice(0, batch.size)
    }

    /// dL/d(logit) (B) -> dense-arena gradients and each table's sparse row gradient.
    public func backward(_ batch: DeviceBatch, logitGradient: DeviceSlice<Float>,
                         embeddingMode: EmbeddingBackwardMode = .collectGradients) throws {
        // Every table's pooled weight adds straight into the logit: its gradient is dL/d(logit).
        try embeddings.backward(batch, outputGradient: logitGradient,
                                layout: PooledLayout(firstOffset: 0, tableOffset: 0, rowStride: 1), mode: embeddingMode)
        dense.backward(input: batch.dense.whole, output: output.whole, outputGradient: logitGradient,
                       inputGradient: nil, rows: batch.size)
    }
}
