import Compute

/// What an embedding table does with its gradient during backward.
public enum EmbeddingBackwardMode: Sendable, Equatable {
    /// Collect the de-duplicated row gradients in `table.gradient`, for an optimizer (or an
    /// exchange between ranks) to apply.
    case collectGradients
    /// Apply plain SGD to the touched rows in the same pass (the fused update of FBGEMM);
    /// `table.gradient` is left empty.
    case fusedSGD(learningRate: Float)
}

/// An embedding table with sum-pooled bags (PyTorch's `EmbeddingBag(mode: "sum")`).
///
/// Forward: out[b] = sum of rows `ids[offsets[b] ..< offsets[b+1]]` (zero for an empty bag),
/// written with a row stride so that pooled vectors land straight in the interaction input.
/// Backward: the gradient of every touched row, de-duplicated (`SparseRowGradient`); the table
/// never sees a dense gradient. Weights are (rows, dimension), outside the dense arena: tables
/// are sharded, not all-reduced.
public final class EmbeddingTable: @unchecked Sendable {
    public let name: String
    public let rowCount: Int
    public let dimension: Int
    /// The row of the whole table that local row 0 is (non-zero for a row-wise shard).
    public let firstRow: Int
    /// Whether every rank holds this table (its copies take identical updates).
    public let isReplica: Bool
    /// Rows of the whole table this is (a shard of).
    public let wholeTableRowCount: Int
    public let weights: FloatBuffer
    public let gradient: SparseRowGradient
    /// Per row: its index in `gradient` during backward, -1 otherwise (reset after each use).
    private let slotOfRow: IndexBuffer

    public init(name: String, rowCount: Int, dimension: Int, batchCapacity: Int, firstRow: Int = 0,
                isReplica: Bool = false, wholeTableRowCount: Int? = nil) {
        precondition(rowCount > 0 && rowCount <= Int(Int32.max), "EmbeddingTable: bad row count \(rowCount)")
        self.name = name
        self.rowCount = rowCount
        self.dimension = dimension
        self.firstRow = firstRow
        self.isReplica = isReplica
        self.wholeTableRowCount = wholeTableRowCount ?? rowCount
        weights = FloatBuffer(count: rowCount * dimension)
        gradient = SparseRowGradient(dimension: dimension, capacity: batchCapacity)
        slotOfRow = IndexBuffer(capacity: rowCount)
        slotOfRow.base.update(repeating: -1, count: rowCount)
    }

    /// Row `id` of the table.
    public func row(_ id: Int) -> UnsafeMutablePointer<Float> {
        assert(id >= 0 && id < rowCount)
        return weights.base + id * dimension
    }

    /// Uniform(-sqrt(1/R), sqrt(1/R)) as in the DLRM reference, R the rows of the whole table.
    ///
    /// Every value comes from the stream of (`seed`, `tableIndex`) at its position in the whole
    /// table, so a shard holding rows `firstRow ..< firstRow + rowCount` gets exactly the values
    /// those rows have in the unsharded table, whatever the number of ranks.
    public func initializeUniform(seed: UInt64, tableIndex: Int, firstRow: Int = 0, wholeTableRows: Int? = nil) {
        let bound = (1.0 / Double(wholeTableRows ?? rowCount)).squareRoot()
        var generator = SeededGenerator(seed: seed, stream: 10_000 + UInt64(tableIndex))
        generator.skip(firstRow * dimension)
        let w = weights.base
        for i in 0..<weights.count { w[i] = Float((generator.nextUniform() * 2 - 1) * bound) }
    }

    /// How many ids ahead the row lookups prefetch: random rows of a large table miss the
    /// caches, and a plain loop stalls on each miss.
    static let prefetchDistance = 16

    /// Pools each sample's bag into `output + b * outputStride` (dimension floats per sample).
    public func forward(_ feature: SparseFeature, rows: Int, output: UnsafeMutablePointer<Float>, outputStride: Int) {
        let ids = feature.ids.base, offsets = feature.offsets.base
        let dimension = self.dimension, w = weights.base
        let idCount = feature.idCount(samples: rows)
        for k in 0..<min(Self.prefetchDistance, idCount) { Kernels.prefetch(w + Int(ids[k]) &* dimension) }
        for b in 0..<rows {
            let out = output + b &* outputStride
            let start = Int(offsets[b]), end = Int(offsets[b &+ 1])
            if start == end {
                out.update(repeating: 0, count: dimension)
                continue
            }
            for k in start..<end {
                if k &+ Self.prefetchDistance < idCount {
                    Kernels.prefetch(w + Int(ids[k &+ Self.prefetchDistance]) &* dimension)
                }
                let row = w + Int(ids[k]) &* dimension
                if k == start {
                    Kernels.copy(row, to: out, count: dimension)
                } else {
                    Kernels.add(row, into: out, count: dimension)
                }
            }
        }
    }

    /// Adds each sample's pooled bag to `output[b]`, for width-1 tables (the wide part's
    /// per-id weights): a scalar per sample, no intermediate buffer.
    public func forwardAddingScalars(_ feature: SparseFeature, rows: Int, output: UnsafeMutablePointer<Float>) {
        precondition(dimension == 1, "forwardAddingScalars needs a width-1 table")
        let ids = feature.ids.base, offsets = feature.offsets.base, w = weights.base
        let idCount = feature.idCount(samples: rows)
        for b in 0..<rows {
            var sum: Float = 0
            for k in Int(offsets[b])..<Int(offsets[b &+ 1]) {
                if k &+ Self.prefetchDistance < idCount { Kernels.prefetch(w + Int(ids[k &+ Self.prefetchDistance])) }
                sum += w[Int(ids[k])]
            }
            output[b] += sum
        }
    }

    /// Backward from dL/d(pooled output) `outputGradient + b * gradientStride`: each id's row
    /// gets the sum of the output gradients of the bags it appears in (once per appearance).
    public func backward(_ feature: SparseFeature, rows: Int, outputGradient: UnsafePointer<Float>,
                         gradientStride: Int, mode: EmbeddingBackwardMode = .collectGradients) {
        switch mode {
        case .collectGradients:
            collectGradient(feature, rows: rows, outputGradient: outputGradient, gradientStride: gradientStride)
        case .fusedSGD(let learningRate):
            applySGD(feature, rows: rows, outputGradient: outputGradient, gradientStride: gradientStride,
                     learningRate: learningRate)
        }
    }

    /// SGD is linear in the gradient, so each appearance of an id updates its row directly:
    /// no de-duplication, and each row is touched once per appearance instead of twice.
    private func applySGD(_ feature: SparseFeature, rows: Int, outputGradient: UnsafePointer<Float>,
                          gradientStride: Int, learningRate: Float) {
        let ids = feature.ids.base, offsets = feature.offsets.base, w = weights.base
        let dimension = self.dimension
        let idCount = feature.idCount(samples: rows)
        for k in 0..<min(Self.prefetchDistance, idCount) { Kernels.prefetchForWrite(w + Int(ids[k]) &* dimension) }
        for b in 0..<rows {
            let source = outputGradient + b &* gradientStride
            for k in Int(offsets[b])..<Int(offsets[b &+ 1]) {
                if k &+ Self.prefetchDistance < idCount {
                    Kernels.prefetchForWrite(w + Int(ids[k &+ Self.prefetchDistance]) &* dimension)
                }
                Kernels.axpy(-learningRate, source, w + Int(ids[k]) &* dimension, count: dimension)
            }
        }
        gradient.rowCount = 0
    }

    /// Fills `gradient`: a row-to-slot map de-duplicates in one pass over the ids, in sample
    /// order, so the sums are deterministic.
    private func collectGradient(_ feature: SparseFeature, rows: Int,
                                 outputGradient: UnsafePointer<Float>, gradientStride: Int) {
        beginGradient(capacity: feature.idCount(samples: rows))
        let ids = feature.ids.base, offsets = feature.offsets.base
        for b in 0..<rows {
            let source = outputGradient + b &* gradientStride
            for k in Int(offsets[b])..<Int(offsets[b &+ 1]) {
                accumulateGradient(row: Int(ids[k]), gradient: source)
            }
        }
        finishGradient()
    }

    /// Starts a new `gradient` for at most `capacity` contributions.
    public func beginGradient(capacity: Int) {
        gradient.reserve(idCount: capacity)
        gradient.rowCount = 0
    }

    /// Adds `gradient` (dimension floats) to row `row`'s entry, creating it on first use.
    @inline(__always)
    public func accumulateGradient(row: Int, gradient source: UnsafePointer<Float>) {
        let slots = slotOfRow.base, dimension = self.dimension
        let values = gradient.values.base
        let slot = Int(slots[row])
        if slot < 0 {
            let unique = gradient.rowCount
            slots[row] = Int32(truncatingIfNeeded: unique)
            gradient.rowIDs.base[unique] = Int32(truncatingIfNeeded: row)
            Kernels.copy(source, to: values + unique &* dimension, count: dimension)
            gradient.rowCount = unique &+ 1
        } else {
            Kernels.add(source, into: values + slot &* dimension, count: dimension)
        }
    }

    /// Ends the gradient: clears the row-to-slot map for the next batch.
    public func finishGradient() {
        let slots = slotOfRow.base, rowIDs = gradient.rowIDs.base
        for u in 0..<gradient.rowCount { slots[Int(rowIDs[u])] = -1 }
    }

    /// `row -= learningRate * gradient`: a plain SGD update of one row.
    @inline(__always)
    public func applySGD(row: Int, gradient source: UnsafePointer<Float>, learningRate: Float) {
        Kernels.axpy(-learningRate, source, weights.base + row &* dimension, count: dimension)
    }
}
