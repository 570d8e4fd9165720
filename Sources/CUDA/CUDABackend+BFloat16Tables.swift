import Compute

/// The CUDA backend's operations on tables stored in bf16 (the `_bf16` kernels of
/// `Kernels/embedding.cu`): rows widened as read, pooled and updated in fp32, updates written back
/// by the stochastic rounding of `StochasticRounding`, whose bits the kernels draw as the CPU does
/// (a row rounds the same on either backend).
extension CUDABackend {
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
        run("sparse_sgd_bf16", items: gradient.rowCount * gradient.dimension, argument(gradient.rowIDs.whole),
            argument(gradient.values.whole), .int64(gradient.rowCount), .float32(learningRate), argument(table),
            .int32(Int32(gradient.dimension)), seed(rounding), .int64(rounding.firstRow))
    }

    public func sparseAdagrad(_ gradient: SparseRowGradient, table: DeviceSlice<UInt16>, rowSums: StoredValues,
                              learningRate: Float, epsilon: Float, rounding: StochasticRounding) {
        let sums = state(rowSums)
        run("sparse_adagrad_bf16", items: gradient.rowCount, argument(gradient.rowIDs.whole), argument(gradient.values.whole),
            .int64(gradient.rowCount), .float32(learningRate), .float32(epsilon), sums.fp32, sums.bf16, argument(table),
            .int32(Int32(gradient.dimension)), seed(rounding), seed(rounding.forState(1)), .int64(rounding.firstRow))
    }

    public func sparseAdam(_ gradient: SparseRowGradient, table: DeviceSlice<UInt16>, first: StoredValues,
                           second: StoredValues, step: AdamStep, rounding: StochasticRounding) {
        let m = state(first), v = state(second)
        run("sparse_adam_bf16", items: gradient.rowCount * gradient.dimension, argument(gradient.rowIDs.whole),
            argument(gradient.values.whole), .int64(gradient.rowCount), .float32(step.stepSize), .float32(step.secondCorrection),
            .float32(step.beta1), .float32(step.beta2), .float32(step.epsilon), m.fp32, v.fp32, m.bf16, v.bf16, argument(table),
            .int32(Int32(gradient.dimension)), seed(rounding), seed(rounding.forState(1)), seed(rounding.forState(2)),
            .int64(rounding.firstRow))
    }

    /// A rounding's seed as the kernels' `unsigned long long`.
    private func seed(_ rounding: StochasticRounding) -> KernelArgument { .int64(Int(bitPattern: UInt(rounding.seed))) }

    /// Optimizer state as the kernels take it: an fp32 and a bf16 address, the other null.
    private func state(_ values: StoredValues) -> (fp32: KernelArgument, bf16: KernelArgument) {
        switch values {
        case .fp32(let values): (argument(values.whole), .address(.null))
        case .bf16(let values): (.address(.null), argument(values.whole))
        }
    }
}
