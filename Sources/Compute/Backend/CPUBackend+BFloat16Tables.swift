/// The CPU backend's operations on tables stored in bf16: lookups and gathers by the kernels of
/// fp32 tables (`EmbeddingKernels`, generic over the stored value), updates by `BFloat16TableKernels`.
extension CPUBackend {
    public func embeddingBags(_ bags: EmbeddingBags, table: DeviceSlice<UInt16>, dimension: Int,
                              output: DeviceSlice<Float>, outputStride: Int, pooling: Pooling) {
        poolBags(bags, table: table, dimension: dimension, output: output, outputStride: outputStride, pooling: pooling)
    }

    public func embeddingBagsAddingScalars(_ bags: EmbeddingBags, table: DeviceSlice<UInt16>, output: DeviceSlice<Float>) {
        addScalarBags(bags, table: table, output: output)
    }

    public func gatherRows(_ tables: [ShardRows<UInt16>?], pairs: DeviceSlice<Int32>, count: Int, dimension: Int,
                           into output: DeviceSlice<UInt16>) {
        gatherStoredRows(tables, pairs: pairs, count: count, dimension: dimension, into: output)
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
    /// of its own (`rounding.forState(stream)`), not the rows'.
    final func stateRows(_ values: StoredValues, width: Int, rounding: StochasticRounding, stream: UInt64) -> StateRows {
        let stateRounding = rounding.forState(stream)
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
