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

/// An embedding table with pooled bags (PyTorch's `EmbeddingBag`, sum or mean).
///
/// Forward: out[b] = pooling of rows `ids[offsets[b] ..< offsets[b+1]]` (zero for an empty bag),
/// written with a row stride so that pooled vectors land straight in the interaction input.
/// Backward: the gradient of every touched row, de-duplicated (`SparseRowGradient`); the table
/// never sees a dense gradient. Weights are (rows, dimension) in backend memory, outside the
/// dense arena: tables are sharded, not all-reduced. They are stored in fp32 or in bf16
/// (`TablePrecision`); host code reads and writes them as fp32 through `readRows`/`writeRows`.
public final class EmbeddingTable: @unchecked Sendable {

    public let name: String
    public let rowCount: Int
    public let dimension: Int
    public let pooling: Pooling
    /// The row of the whole table that local row 0 is (non-zero for a row-wise shard).
    public let firstRow: Int
    /// Whether every rank holds this table (its copies take identical updates).
    public let isReplica: Bool
    /// Rows of the whole table this is (a shard of).
    public let wholeTableRowCount: Int
    public let backend: any ComputeBackend
    public let storage: StoredValues
    public let gradient: SparseRowGradient
    /// For a shard of a dynamic table: which key holds each row (shared by the tables over the
    /// same feature, such as Wide&Deep's deep and wide ones).
    public var rowMap: DynamicRowMap?

    public init(backend: any ComputeBackend, name: String, rowCount: Int, dimension: Int, batchCapacity: Int,
                pooling: Pooling = .sum, firstRow: Int = 0, isReplica: Bool = false, wholeTableRowCount: Int? = nil,
                precision: TablePrecision = .fp32) {
        precondition(rowCount > 0 && rowCount <= Int(Int32.max), "EmbeddingTable: bad row count \(rowCount)")
        self.backend = backend
        self.name = name
        self.rowCount = rowCount
        self.dimension = dimension
        self.pooling = pooling
        self.firstRow = firstRow
        self.isReplica = isReplica
        self.wholeTableRowCount = wholeTableRowCount ?? rowCount
        storage = StoredValues(backend: backend, count: rowCount * dimension, precision: precision)
        gradient = SparseRowGradient(backend: backend, dimension: dimension, capacity: batchCapacity)
    }

    public var precision: TablePrecision { storage.precision }

    /// Values stored: rows times dimension.
    public var valueCount: Int { rowCount * dimension }

    /// The rows this table holds, as the exchange of sharded tables names them (fp32 tables).
    public var shardRows: ShardRows<Float>? {
        guard case .fp32(let weights) = storage else { return nil }
        return ShardRows(weights: weights.whole, firstRow: firstRow)
    }

    /// The same for a bf16 table.
    public var bfloat16ShardRows: ShardRows<UInt16>? {
        guard case .bf16(let weights) = storage else { return nil }
        return ShardRows(weights: weights.whole, firstRow: firstRow)
    }

    /// A host copy of local rows `rows` as fp32 (a bf16 table's widened exactly).
    public func readRows(_ rows: Range<Int>) -> [Float] {
        storage.read((rows.lowerBound * dimension)..<(rows.upperBound * dimension))
    }

    /// Writes fp32 `values` into local rows from `firstLocalRow` on (a bf16 table rounds them to
    /// nearest: a value read from a bf16 table is written back unchanged).
    public func writeRows(_ values: UnsafeBufferPointer<Float>, from firstLocalRow: Int) {
        precondition(values.count % dimension == 0 && firstLocalRow * dimension + values.count <= valueCount,
                     "writeRows: \(values.count) values at row \(firstLocalRow) of \(name)")
        storage.write(values, at: firstLocalRow * dimension)
    }

    /// Whether every stored value is finite.
    public func allFinite() -> Bool { storage.allFinite() }

    /// Uniform(-sqrt(1/R), sqrt(1/R)) as in the DLRM reference, R the rows of the whole table.
    ///
    /// Every value comes from the stream of (`seed`, `tableIndex`) at its position in the whole
    /// table, so a shard holding rows `firstRow ..< firstRow + rowCount` gets exactly the values
    /// those rows have in the unsharded table, whatever the number of ranks. Generated on the
    /// host a block at a time and copied in.
    public func initializeUniform(seed: UInt64, tableIndex: Int) {
        let bound = (1.0 / Double(wholeTableRowCount)).squareRoot()
        var generator = SeededGenerator(seed: seed, stream: 10_000 + UInt64(tableIndex))
        generator.skip(firstRow * dimension)
        let blockSize = 1 << 20
        let blockRows = max(1, blockSize / dimension)
        var block = [Float](repeating: 0, count: min(blockRows, rowCount) * dimension)
        var row = 0
        while row < rowCount {
            let count = min(blockRows, rowCount - row) * dimension
            for i in 0..<count { block[i] = Float((generator.nextUniform() * 2 - 1) * bound) }
            block.withUnsafeBufferPointer { writeRows(UnsafeBufferPointer(rebasing: $0[0..<count]), from: row) }
            row += count / dimension
        }
    }

    /// Draws the starting values of `rows` (local rows newly given to `keys`) from `seed`, each
    /// row from the stream of its key, so that a key's row starts the same on any rank.
    public func initializeRows(_ rows: [Int32], keys: UnsafeMutableBufferPointer<UInt64>, seed: UInt64?, tableIndex: Int) {
        let bound = Float((1.0 / Double(wholeTableRowCount)).squareRoot())
        var values = [Float](repeating: 0, count: dimension)
        for row in rows {
            if let seed {
                var generator = SeededGenerator(seed: seed ^ keys[Int(row)], stream: 20_000 + UInt64(tableIndex))
                for i in 0..<dimension { values[i] = Float(generator.nextUniform() * 2 - 1) * bound }
            }
            values.withUnsafeBufferPointer { writeRows($0, from: Int(row)) }
        }
    }

    /// Pools each sample's bag into `output + b * outputStride` (dimension floats per sample).
    public func forward(_ bags: EmbeddingBags, output: DeviceSlice<Float>, outputStride: Int) {
        switch storage {
        case .fp32(let weights):
            backend.embeddingBags(bags, table: weights.whole, dimension: dimension, output: output, outputStride: outputStride,
                                  pooling: pooling)
        case .bf16(let weights):
            backend.embeddingBags(bags, table: weights.whole, dimension: dimension, output: output, outputStride: outputStride,
                                  pooling: pooling)
        }
    }

    /// Adds each sample's pooled bag to `output[b]`, for width-1 tables (the wide part's
    /// per-id weights): a scalar per sample, no intermediate buffer.
    public func forwardAddingScalars(_ bags: EmbeddingBags, output: DeviceSlice<Float>) {
        precondition(dimension == 1 && pooling == .sum, "forwardAddingScalars needs a width-1 sum-pooled table")
        switch storage {
        case .fp32(let weights): backend.embeddingBagsAddingScalars(bags, table: weights.whole, output: output)
        case .bf16(let weights): backend.embeddingBagsAddingScalars(bags, table: weights.whole, output: output)
        }
    }

    /// Backward from dL/d(pooled output) `outputGradient + b * gradientStride`: each id's row
    /// gets its share of the output gradients of the bags it appears in (once per appearance).
    public func backward(_ bags: EmbeddingBags, outputGradient: DeviceSlice<Float>, gradientStride: Int,
                         mode: EmbeddingBackwardMode = .collectGradients) {
        gradient.begin(contributions: mode == .collectGradients ? bags.idCount : 0)
        applyGradients(bags, outputGradient: outputGradient, gradientStride: gradientStride, mode: mode)
        gradient.finish()
    }

    /// The contributions of `bags` to this table, without beginning or finishing `gradient`:
    /// added to its entries (the caller began it: other contributions may join them), or
    /// applied by fused SGD (SGD is linear in the gradient: each appearance updates its row).
    public func applyGradients(_ bags: EmbeddingBags, outputGradient: DeviceSlice<Float>, gradientStride: Int,
                               mode: EmbeddingBackwardMode) {
        switch mode {
        case .collectGradients:
            backend.accumulateBagGradients(bags, gradient: outputGradient, gradientStride: gradientStride, pooling: pooling,
                                           into: gradient)
        case .fusedSGD(let learningRate):
            guard case .fp32(let weights) = storage else {
                preconditionFailure("\(name): a bf16 table is updated by the sparse optimizer, not fused SGD")
            }
            backend.embeddingBagsScatterAdd(bags, gradient: outputGradient, gradientStride: gradientStride, scale: -learningRate,
                                            pooling: pooling, into: weights.whole, dimension: dimension)
        }
    }
}
