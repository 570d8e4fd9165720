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

    /// The state `values` for a bf16 table's update by `rounding`: a bf16 state rounds with bits
    /// of its own (`stream` mixed into the seed), not the rows'.
    final func stateRows(_ values: StoredValues, width: Int, rounding: StochasticRounding, stream: UInt64) -> StateRows {
        let stateRounding = StochasticRounding(seed: SeededGenerator.mix(rounding.seed ^ stream), firstRow: rounding.firstRow)
        switch values {
        case .fp32(let values): return StateRows(fp32: pointer(values.whole), bf16: nil, width: width, rounding: stateRounding)
        case .bf16(let values): return StateRows(fp32: nil, bf16: pointer(values.whole), width: width, rounding: stateRounding)
        }
    }

    public func sparseAdagrad(_ gradient: SparseRowGradient, table: DeviceSlice<UInt16>, rowSums: StoredValues,
                              learningRate: Float, epsilon: Float, rounding: StochasticRounding) {
        let d = gradient.dimension, values = pointer(gradient.values.whole)
        let sums = stateRows(rowSums, width: 1, rounding: rounding, stream: 1)
        var sum: Float = 0
        BFloat16TableKernels.updateRows(gradient, rowIDs: pointer(gradient.rowIDs.whole), table: pointer(table),
                                        rounding: rounding) { u, id, row in
            let g = values + u &* d
            var multiplier: Float = 0
            sums.update(row: id, scratch: &sum) { s in
                s[0] += Kernels.dot(g, g, count: d) / Float(d)
                multiplier = -learningRate / (s[0].squareRoot() + epsilon)
            }
            Kernels.axpy(multiplier, g, row, count: d)
        }
    }

    public func sparseAdam(_ gradient: SparseRowGradient, table: DeviceSlice<UInt16>, first: StoredValues,
                           second: StoredValues, step: AdamStep, rounding: StochasticRounding) {
        let d = gradient.dimension, values = pointer(gradient.values.whole)
        let m = stateRows(first, width: d, rounding: rounding, stream: 1), v = stateRows(second, width: d, rounding: rounding, stream: 2)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * d) { scratch in
            let firstScratch = scratch.baseAddress!, secondScratch = firstScratch + d
            BFloat16TableKernels.updateRows(gradient, rowIDs: pointer(gradient.rowIDs.whole), table: pointer(table),
                                            rounding: rounding) { u, id, row in
                m.update(row: id, scratch: firstScratch) { first in
                    v.update(row: id, scratch: secondScratch) { second in
                        OptimizerKernels.adam(values: row, gradients: values + u &* d, first: first, second: second, count: d, step: step)
                    }
                }
            }
        }
    }
}
