import Compute

/// The CUDA backend's embedding operations: bags pooled and scattered back, rows named by
/// (table, row) pairs, and a batch's sparse row gradients with their optimizers.
///
/// A gradient's rows are de-duplicated on the device in three passes: the rows not yet in it
/// take a pair of its row-to-slot map and an entry (claim_rows; the count read back, which the
/// host keeps as `rowCount`), the new entries start at zero (zero_entries), then every
/// contribution is added into its row's entry. Entries come in no particular order; each row's
/// sum is the same.
extension CUDABackend {
    /// Refuses bags whose offsets or ids lie outside their slices.
    func checkBags(_ bags: EmbeddingBags) {
        precondition(bags.rows < bags.offsets.count && bags.idCount <= bags.ids.count, "embedding bags outside their slices")
    }

    /// The kernel `name` for a table storing `Value`: its `_bf16` twin for rows stored in bf16.
    func kernel<Value>(_ name: String, for _: Value.Type) -> String { Value.self == UInt16.self ? name + "_bf16" : name }

    public func embeddingBags(_ bags: EmbeddingBags, table: DeviceSlice<Float>, dimension: Int,
                              output: DeviceSlice<Float>, outputStride: Int, pooling: Pooling) {
        poolBags(bags, table: table, dimension: dimension, output: output, outputStride: outputStride, pooling: pooling)
    }

    public func embeddingBagsAddingScalars(_ bags: EmbeddingBags, table: DeviceSlice<Float>, output: DeviceSlice<Float>) {
        addScalarBags(bags, table: table, output: output)
    }

    /// `embeddingBags` over a table of either stored precision.
    func poolBags<Value>(_ bags: EmbeddingBags, table: DeviceSlice<Value>, dimension: Int, output: DeviceSlice<Float>,
                         outputStride: Int, pooling: Pooling) {
        guard bags.rows > 0 else { return }
        checkBags(bags)
        precondition((bags.rows - 1) * outputStride + dimension <= output.count, "embeddingBags: output outside its slice")
        run(kernel("embedding_bags", for: Value.self), items: bags.rows * dimension, argument(table), .int32(Int32(dimension)),
            argument(bags.ids), argument(bags.offsets), .int64(bags.rows), argument(output), .int64(outputStride),
            .int32(pooling == .mean ? 1 : 0))
    }

    /// `embeddingBagsAddingScalars` over a table of either stored precision.
    func addScalarBags<Value>(_ bags: EmbeddingBags, table: DeviceSlice<Value>, output: DeviceSlice<Float>) {
        guard bags.rows > 0 else { return }
        checkBags(bags)
        precondition(bags.rows <= output.count, "embeddingBagsAddingScalars: output outside its slice")
        run(kernel("embedding_bags_add_scalars", for: Value.self), items: bags.rows, argument(table), argument(bags.ids),
            argument(bags.offsets), .int64(bags.rows), argument(output))
    }

    public func embeddingBagsScatterAdd(_ bags: EmbeddingBags, gradient: DeviceSlice<Float>, gradientStride: Int,
                                        scale: Float, pooling: Pooling, into table: DeviceSlice<Float>, dimension: Int) {
        guard bags.rows > 0 else { return }
        checkBags(bags)
        precondition((bags.rows - 1) * gradientStride + dimension <= gradient.count, "embeddingBagsScatterAdd: gradient outside its slice")
        run("embedding_bags_scatter_add", items: bags.rows * dimension, argument(gradient), .int64(gradientStride), argument(bags.ids),
            argument(bags.offsets), .int64(bags.rows), .float32(scale), .int32(pooling == .mean ? 1 : 0), argument(table),
            .int32(Int32(dimension)))
    }

    /// Claims entries in `gradient` for the rows `rows[i * stride] - rowOffset` not in it yet
    /// (only where `tables[i * stride] == table` when `tables` is given), `count` candidates.
    private func claimRows(_ rows: KernelArgument, count: Int, stride: Int, tables: KernelArgument, table: Int, rowOffset: Int,
                           in gradient: SparseRowGradient) {
        guard count > 0 else { return }
        precondition(gradient.rowCount + count <= gradient.capacity, "begin the gradient first")
        let total = makeBuffer(Int32.self, count: 1)
        total.copy(from: [Int32(gradient.rowCount)])
        run("claim_rows", items: count, rows, .int64(count), .int64(stride), tables, .int32(Int32(table)), .int32(Int32(rowOffset)),
            argument(gradient.slotMap.whole), .int64(gradient.slotMapMask), argument(gradient.rowIDs.whole), argument(total.whole))
        let claimed = integer(in: total)
        run("zero_entries", items: (claimed - gradient.rowCount) * gradient.dimension, .int64(gradient.rowCount), .int64(claimed),
            argument(gradient.values.whole), .int32(Int32(gradient.dimension)))
        gradient.rowCount = claimed
    }

    public func accumulateBagGradients(_ bags: EmbeddingBags, gradient: DeviceSlice<Float>, gradientStride: Int,
                                       pooling: Pooling, into rowGradient: SparseRowGradient) {
        guard bags.rows > 0 else { return }
        checkBags(bags)
        let d = rowGradient.dimension
        precondition((bags.rows - 1) * gradientStride + d <= gradient.count, "accumulateBagGradients: gradient outside its slice")
        claimRows(argument(bags.ids), count: bags.idCount, stride: 1, tables: .address(.null), table: 0, rowOffset: 0, in: rowGradient)
        run("accumulate_bag_gradients", items: bags.rows * d, argument(gradient), .int64(gradientStride), argument(bags.ids),
            argument(bags.offsets), .int64(bags.rows), .int32(pooling == .mean ? 1 : 0), argument(rowGradient.slotMap.whole), .int64(rowGradient.slotMapMask),
            argument(rowGradient.values.whole), .int32(Int32(d)))
    }

    // MARK: Rows named by (table, row) pairs

    /// Per table, the device address its global row 0 would have (null for a table not held).
    func rowBases<Value>(_ tables: [ShardRows<Value>?], dimension: Int) -> DeviceBuffer<Int32> {
        let bases = makeBuffer(Int32.self, count: 2 * tables.count)
        let addresses: [UInt64] = tables.map { shard in
            guard let shard else { return 0 }
            return address(shard.weights).value &- UInt64(shard.firstRow * dimension * MemoryLayout<Value>.stride)
        }
        addresses.withUnsafeBytes { bytes in
            must { try device.copy(bytes.count, from: bytes.baseAddress!, to: address(bases.whole)) }
        }
        return bases
    }

    public func gatherRows(_ tables: [ShardRows<Float>?], pairs: DeviceSlice<Int32>, count: Int, dimension: Int,
                           into output: DeviceSlice<Float>) {
        gatherStoredRows(tables, pairs: pairs, count: count, dimension: dimension, into: output)
    }

    /// `gatherRows` from tables of either stored precision, the rows copied as stored.
    func gatherStoredRows<Value>(_ tables: [ShardRows<Value>?], pairs: DeviceSlice<Int32>, count: Int, dimension: Int,
                                 into output: DeviceSlice<Value>) {
        guard count > 0 else { return }
        precondition(2 * count <= pairs.count && count * dimension <= output.count, "gatherRows: count outside the slices")
        let bases = rowBases(tables, dimension: dimension)
        run(kernel("gather_rows", for: Value.self), items: count * dimension, argument(bases.whole), argument(pairs), .int64(count),
            .int32(Int32(dimension)), argument(output))
    }

    public func scatterAddRows(_ values: DeviceSlice<Float>, pairs: DeviceSlice<Int32>, count: Int, scale: Float,
                               into tables: [ShardRows<Float>?], dimension: Int) {
        guard count > 0 else { return }
        precondition(2 * count <= pairs.count && count * dimension <= values.count, "scatterAddRows: count outside the slices")
        let bases = rowBases(tables, dimension: dimension)
        run("scatter_add_rows", items: count * dimension, argument(values), argument(pairs), .int64(count), .float32(scale),
            argument(bases.whole), .int32(Int32(dimension)))
    }

    public func accumulateRowGradients(_ values: DeviceSlice<Float>, pairs: DeviceSlice<Int32>, count: Int,
                                       into gradients: [SparseRowGradient?], firstRows: [Int]) {
        guard count > 0, let d = gradients.lazy.compactMap({ $0?.dimension }).first else { return }
        precondition(2 * count <= pairs.count && count * d <= values.count, "accumulateRowGradients: count outside the slices")
        for (table, gradient) in gradients.enumerated() {
            guard let gradient else { continue }
            claimRows(.address(address(pairs).advanced(by: 4)), count: count, stride: 2, tables: argument(pairs), table: table,
                      rowOffset: firstRows[table], in: gradient)
            run("accumulate_row_gradients", items: count * d, argument(values), argument(pairs), .int64(count), .int32(Int32(table)),
                .int32(Int32(firstRows[table])), argument(gradient.slotMap.whole), .int64(gradient.slotMapMask), argument(gradient.values.whole), .int32(Int32(d)))
        }
    }

    public func finishRowGradient(_ gradient: SparseRowGradient) {
        if gradient.rowCount > 0 { fill(gradient.slotMap.whole, with: -1) }
    }

    // MARK: Sparse optimizers

    public func sparseSGD(_ gradient: SparseRowGradient, table: DeviceSlice<Float>, learningRate: Float) {
        run("sparse_sgd", items: gradient.rowCount * gradient.dimension, argument(gradient.rowIDs.whole), argument(gradient.values.whole),
            .int64(gradient.rowCount), .float32(learningRate), argument(table), .int32(Int32(gradient.dimension)))
    }

    public func sparseAdagrad(_ gradient: SparseRowGradient, table: DeviceSlice<Float>, rowSums: DeviceSlice<Float>,
                              learningRate: Float, epsilon: Float) {
        run("sparse_adagrad", items: gradient.rowCount, argument(gradient.rowIDs.whole), argument(gradient.values.whole),
            .int64(gradient.rowCount), .float32(learningRate), .float32(epsilon), argument(rowSums), argument(table),
            .int32(Int32(gradient.dimension)))
    }

    public func sparseAdam(_ gradient: SparseRowGradient, table: DeviceSlice<Float>, first: DeviceSlice<Float>,
                           second: DeviceSlice<Float>, step: AdamStep) {
        run("sparse_adam", items: gradient.rowCount * gradient.dimension, argument(gradient.rowIDs.whole), argument(gradient.values.whole),
            .int64(gradient.rowCount), .float32(step.stepSize), .float32(step.secondCorrection), .float32(step.beta1),
            .float32(step.beta2), .float32(step.epsilon), argument(first), argument(second), argument(table),
            .int32(Int32(gradient.dimension)))
    }
}
