/// The CPU backend's operations on tables stored in bf16 (`BFloat16TableKernels`).
extension CPUBackend {
    public var storesBFloat16Tables: Bool { true }

    public func embeddingBags(_ bags: EmbeddingBags, table: DeviceSlice<UInt16>, dimension: Int,
                              output: DeviceSlice<Float>, outputStride: Int, pooling: Pooling) {
        guard bags.rows > 0 else { return }
        precondition((bags.rows - 1) * outputStride + dimension <= output.count, "embeddingBags: output outside its slice")
        let (host, table, output) = (hostBags(bags), pointer(table), pointer(output))
        RowThreads.forEachRange(bags.rows, minimumRows: 256) { range in
            BFloat16TableKernels.pool(host, rows: range, table: table, dimension: dimension, output: output,
                                      outputStride: outputStride, mean: pooling == .mean)
        }
    }

    public func embeddingBagsAddingScalars(_ bags: EmbeddingBags, table: DeviceSlice<UInt16>, output: DeviceSlice<Float>) {
        precondition(bags.rows <= output.count, "embeddingBagsAddingScalars: output outside its slice")
        BFloat16TableKernels.addScalars(hostBags(bags), table: pointer(table), output: pointer(output))
    }

    public func gatherRows(_ tables: [BFloat16ShardRows?], pairs: DeviceSlice<Int32>, count: Int, dimension: Int,
                           into output: DeviceSlice<UInt16>) {
        guard count > 0 else { return }
        precondition(2 * count <= pairs.count && count * dimension <= output.count, "gatherRows: count outside the slices")
        let rowBases = tables.map { shard in shard.map { pointer($0.weights) - $0.firstRow * dimension } }
        BFloat16TableKernels.gatherRows(rowBases, pairs: pointer(pairs), count: count, dimension: dimension,
                                        output: pointer(output))
    }

    public func sparseSGD(_ gradient: SparseRowGradient, table: DeviceSlice<UInt16>, learningRate: Float,
                          rounding: StochasticRounding) {
        let d = gradient.dimension, g = pointer(gradient.values.whole)
        BFloat16TableKernels.updateRows(gradient, rowIDs: pointer(gradient.rowIDs.whole), table: pointer(table),
                                        rounding: rounding) { u, _, row in
            Kernels.axpy(-learningRate, g + u &* d, row, count: d)
        }
    }

    public func sparseAdagrad(_ gradient: SparseRowGradient, table: DeviceSlice<UInt16>, rowSums: DeviceSlice<Float>,
                              learningRate: Float, epsilon: Float, rounding: StochasticRounding) {
        let d = gradient.dimension, sums = pointer(rowSums), values = pointer(gradient.values.whole)
        BFloat16TableKernels.updateRows(gradient, rowIDs: pointer(gradient.rowIDs.whole), table: pointer(table),
                                        rounding: rounding) { u, id, row in
            let g = values + u &* d
            sums[id] += Kernels.dot(g, g, count: d) / Float(d)
            Kernels.axpy(-learningRate / (sums[id].squareRoot() + epsilon), g, row, count: d)
        }
    }

    public func sparseAdam(_ gradient: SparseRowGradient, table: DeviceSlice<UInt16>, first: DeviceSlice<Float>,
                           second: DeviceSlice<Float>, step: AdamStep, rounding: StochasticRounding) {
        let d = gradient.dimension, m = pointer(first), v = pointer(second), values = pointer(gradient.values.whole)
        BFloat16TableKernels.updateRows(gradient, rowIDs: pointer(gradient.rowIDs.whole), table: pointer(table),
                                        rounding: rounding) { u, id, row in
            OptimizerKernels.adam(values: row, gradients: values + u &* d, first: m + id &* d, second: v + id &* d,
                                  count: d, step: step)
        }
    }
}
