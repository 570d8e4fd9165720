import Compute

/// The wide part of Wide&Deep: a linear model over sparse ids and dense features,
/// `logit[b] = sum_t w_t[ids of b in table t] + dense[b] . v + c`.
///
/// The per-id weights are width-1 embedding tables (sparse updates, never all-reduced); `v` and
/// `c` live in the dense arena. Everything starts at zero, as in the reference.
public final class WideLinear: @unchecked Sendable {
    public let tables: [EmbeddingTable]
    public let dense: Linear
    private let output: FloatBuffer

    public init(arena: ParameterArena, name: String, denseFeatureCount: Int, tableRowCounts: [Int],
                batchCapacity: Int) {
        tables = tableRowCounts.enumerated().map { index, rows in
            EmbeddingTable(name: "\(name)/table\(index)", rowCount: rows, dimension: 1, batchCapacity: batchCapacity)
        }
        dense = Linear(arena: arena, name: "\(name)/dense", inputSize: denseFeatureCount, outputSize: 1,
                       appliesReLU: false)
        output = FloatBuffer(count: batchCapacity)
    }

    /// logits (B) of the wide part; valid until the next call.
    public func forward(_ batch: Batch) -> UnsafeMutablePointer<Float> {
        let rows = batch.size
        dense.forward(input: batch.dense.base, output: output.base, rows: rows)
        for (t, table) in tables.enumerated() {
            table.forwardAddingScalars(batch.sparse[t], rows: rows, output: output.base)
        }
        return output.base
    }

    /// dL/d(logit) (B) -> dense-arena gradients and each table's sparse row gradient.
    public func backward(_ batch: Batch, logitGradient: UnsafeMutablePointer<Float>,
                         embeddingMode: EmbeddingBackwardMode = .collectGradients) {
        let rows = batch.size
        for (t, table) in tables.enumerated() {
            table.backward(batch.sparse[t], rows: rows, outputGradient: logitGradient, gradientStride: 1,
                           mode: embeddingMode)
        }
        dense.backward(input: batch.dense.base, output: output.base, outputGradient: logitGradient,
                       inputGradient: nil, rows: rows)
    }
}
