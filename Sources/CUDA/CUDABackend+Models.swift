import Compute

/// The CUDA backend's operations of particular models: gates, retrieval towers, the DLRM and
/// DeepFM interactions, losses, the transformer's layers and the dense optimizers.
extension CUDABackend {
    // MARK: Gates

    public func softmaxRows(_ x: DeviceSlice<Float>, rows: Int, columns: Int) {
        precondition(rows * columns <= x.count, "softmaxRows: shape outside its slice")
        run("softmax_rows", items: rows, argument(x), .int64(rows), .int32(Int32(columns)))
    }

    public func softmaxRowsBackward(probabilities: DeviceSlice<Float>, gradient: DeviceSlice<Float>, rows: Int, columns: Int) {
        precondition(rows * columns <= probabilities.count && rows * columns <= gradient.count, "softmaxRowsBackward: shape outside its slices")
        run("softmax_rows_backward", items: rows, argument(probabilities), argument(gradient), .int64(rows), .int32(Int32(columns)))
    }

    public func addScaledRows(_ x: DeviceSlice<Float>, scales: DeviceSlice<Float>, scaleStride: Int, into y: DeviceSlice<Float>,
                              rows: Int, columns: Int) {
        guard rows > 0 else { return }
        precondition(rows * columns <= x.count && rows * columns <= y.count && (rows - 1) * scaleStride < scales.count,
                     "addScaledRows: shapes outside their slices")
        run("add_scaled_rows", items: rows * columns, argument(x), argument(scales), .int64(scaleStride), argument(y), .int64(rows),
            .int64(columns))
    }

    public func rowDots(_ a: DeviceSlice<Float>, _ b: DeviceSlice<Float>, rows: Int, columns: Int, into dots: DeviceSlice<Float>,
                        dotStride: Int) {
        guard rows > 0 else { return }
        precondition(rows * columns <= a.count && rows * columns <= b.count && (rows - 1) * dotStride < dots.count,
                     "rowDots: shapes outside their slices")
        run("row_dots", items: rows * 32, argument(a), argument(b), .int64(rows), .int64(columns), argument(dots), .int64(dotStride))
    }

    // MARK: Retrieval

    public func normalizeRows(_ x: DeviceSlice<Float>, into y: DeviceSlice<Float>, norms: DeviceSlice<Float>, rows: Int, columns: Int) {
        precondition(rows * columns <= x.count && rows * columns <= y.count && rows <= norms.count, "normalizeRows: shapes outside their slices")
        run("normalize_rows", items: rows * 32, argument(x), argument(y), argument(norms), .int64(rows), .int64(columns))
    }

    public func normalizeRowsBackward(output y: DeviceSlice<Float>, norms: DeviceSlice<Float>, outputGradient dy: DeviceSlice<Float>,
                                      into dx: DeviceSlice<Float>, rows: Int, columns: Int) {
        precondition(rows * columns <= y.count && rows * columns <= dy.count && rows * columns <= dx.count && rows <= norms.count,
                     "normalizeRowsBackward: shapes outside their slices")
        run("normalize_rows_backward", items: rows * 32, argument(y), argument(norms), argument(dy), argument(dx), .int64(rows),
            .int64(columns))
    }

    public func sampledSoftmaxCrossEntropy(_ logits: DeviceSlice<Float>, rows: Int, columns: Int, corrections: DeviceSlice<Float>,
                                           keys: DeviceSlice<Int32>, firstTarget: Int, gradientScale: Float) -> Double {
        precondition(rows * columns <= logits.count && columns <= corrections.count && columns <= keys.count
                     && firstTarget + rows <= columns, "sampledSoftmaxCrossEntropy: shapes outside their slices")
        let loss = doubleSum()
        runBlockPerRow("sampled_softmax_cross_entropy", rows: rows, argument(logits), .int64(rows), .int64(columns), argument(corrections),
                       argument(keys), .int64(firstTarget), .float32(gradientScale), argument(loss.whole))
        return double(in: loss)
    }

    // MARK: Interaction and loss

    public func dotInteraction(_ shape: InteractionShape, input: DeviceSlice<Float>, output: DeviceSlice<Float>, rows: Int) {
        precondition(rows * shape.inputWidth <= input.count && rows * shape.outputWidth <= output.count,
                     "dotInteraction: shapes outside their slices")
        run("dot_interaction", items: rows * shape.outputWidth, argument(input), argument(output), .int64(rows),
            .int32(Int32(shape.featureCount)), .int32(Int32(shape.dimension)), .int32(shape.passesFirstSlot ? 1 : 0))
    }

    public func dotInteractionBackward(_ shape: InteractionShape, input: DeviceSlice<Float>, outputGradient: DeviceSlice<Float>,
                                       inputGradient: DeviceSlice<Float>, rows: Int) {
        precondition(rows * shape.inputWidth <= input.count && rows * shape.outputWidth <= outputGradient.count
                     && rows * shape.inputWidth <= inputGradient.count, "dotInteractionBackward: shapes outside their slices")
        run("dot_interaction_backward", items: rows * shape.inputWidth, argument(input), argument(outputGradient), argument(inputGradient),
            .int64(rows), .int32(Int32(shape.featureCount)), .int32(Int32(shape.dimension)), .int32(shape.passesFirstSlot ? 1 : 0))
    }

    public func factorizationMachine(input: DeviceSlice<Float>, rowStride: Int, fields: Int, dimension: Int, rows: Int,
                                     addingInto output: DeviceSlice<Float>) {
        guard rows > 0 else { return }
        precondition((rows - 1) * rowStride + fields * dimension <= input.count && rows <= output.count,
                     "factorizationMachine: shapes outside their slices")
        run("factorization_machine", items: rows, argument(input), .int64(rowStride), .int32(Int32(fields)), .int32(Int32(dimension)),
            .int64(rows), argument(output))
    }

    public func factorizationMachineBackward(input: DeviceSlice<Float>, rowStride: Int, fields: Int, dimension: Int, rows: Int,
                                             outputGradient: DeviceSlice<Float>, addingInto inputGradient: DeviceSlice<Float>) {
        guard rows > 0 else { return }
        precondition((rows - 1) * rowStride + fields * dimension <= input.count && rows <= outputGradient.count
                     && (rows - 1) * rowStride + fields * dimension <= inputGradient.count,
                     "factorizationMachineBackward: shapes outside their slices")
        run("factorization_machine_backward", items: rows * dimension, argument(input), .int64(rowStride), .int32(Int32(fields)),
            .int32(Int32(dimension)), .int64(rows), argument(outputGradient), argument(inputGradient))
    }

    public func binaryCrossEntropy(logits: DeviceSlice<Float>, labels: DeviceSlice<Float>,
                                   logitGradient: DeviceSlice<Float>?, count: Int, gradientScale: Float) -> Double {
        precondition(count <= logits.count && count <= labels.count && count <= (logitGradient?.count ?? count),
                     "binaryCrossEntropy: count outside its slices")
        let loss = doubleSum()
        run("binary_cross_entropy", items: count, argument(logits), argument(labels), logitGradient.map(argument) ?? .address(.null),
            .int64(count), .float32(gradientScale), argument(loss.whole))
        return double(in: loss)
    }

    public func squaredError(predictions: DeviceSlice<Float>, labels: DeviceSlice<Float>,
                             gradient: DeviceSlice<Float>?, count: Int, gradientScale: Float) -> Double {
        precondition(count <= predictions.count && count <= labels.count && count <= (gradient?.count ?? count),
                     "squaredError: count outside its slices")
        let loss = doubleSum()
        run("squared_error", items: count, argument(predictions), argument(labels), gradient.map(argument) ?? .address(.null),
            .int64(count), .float32(gradientScale), argument(loss.whole))
        return double(in: loss)
    }

    // MARK: Transformer

    public func layerNorm(input: DeviceSlice<Float>, gamma: DeviceSlice<Float>, beta: DeviceSlice<Float>, output: DeviceSlice<Float>,
                          means: DeviceSlice<Float>, inverseDeviations: DeviceSlice<Float>, rows: Int, width: Int, epsilon: Float) {
        precondition(rows * width <= input.count && rows * width <= output.count && width <= gamma.count && width <= beta.count
                     && rows <= means.count && rows <= inverseDeviations.count, "layerNorm: shapes outside their slices")
        run("layer_norm", items: rows * 32, argument(input), argument(gamma), argument(beta), argument(output), argument(means),
            argument(inverseDeviations), .int64(rows), .int32(Int32(width)), .float32(epsilon))
    }

    public func layerNormBackward(input: DeviceSlice<Float>, gamma: DeviceSlice<Float>, means: DeviceSlice<Float>,
                                  inverseDeviations: DeviceSlice<Float>, outputGradient: DeviceSlice<Float>,
                                  inputGradient: DeviceSlice<Float>, gammaGradient: DeviceSlice<Float>, betaGradient: DeviceSlice<Float>,
                                  rows: Int, width: Int) {
        precondition(rows * width <= input.count && rows * width <= outputGradient.count && rows * width <= inputGradient.count
                     && width <= gamma.count && width <= gammaGradient.count && width <= betaGradient.count && rows <= means.count
                     && rows <= inverseDeviations.count, "layerNormBackward: shapes outside their slices")
        run("layer_norm_backward", items: rows * 32, argument(input), argument(gamma), argument(means), argument(inverseDeviations),
            argument(outputGradient), argument(inputGradient), .int64(rows), .int32(Int32(width)))
        guard rows > 0 else { return }
        run("layer_norm_parameter_gradients", items: width, argument(input), argument(means), argument(inverseDeviations),
            argument(outputGradient), argument(gammaGradient), argument(betaGradient), .int64(rows), .int32(Int32(width)))
    }

    public func attention(_ shape: AttentionShape, queries: DeviceSlice<Float>, keys: DeviceSlice<Float>, values: DeviceSlice<Float>,
                          lengths: DeviceSlice<Int32>, probabilities: DeviceSlice<Float>, output: DeviceSlice<Float>) {
        precondition([queries, keys, values, output].allSatisfy { $0.count >= shape.elementCount }
                     && probabilities.count >= shape.probabilityCount && lengths.count >= shape.sequences,
                     "attention: shapes outside their slices")
        run("attention", items: shape.sequences * shape.heads * shape.length, argument(queries), argument(keys), argument(values),
            argument(lengths), argument(probabilities), argument(output), .int64(shape.sequences), .int32(Int32(shape.length)),
            .int32(Int32(shape.heads)), .int32(Int32(shape.headDimension)))
    }

    public func attentionBackward(_ shape: AttentionShape, queries: DeviceSlice<Float>, keys: DeviceSlice<Float>, values: DeviceSlice<Float>,
                                  lengths: DeviceSlice<Int32>, probabilities: DeviceSlice<Float>, outputGradient: DeviceSlice<Float>,
                                  queryGradient: DeviceSlice<Float>, keyGradient: DeviceSlice<Float>, valueGradient: DeviceSlice<Float>) {
        precondition([queries, keys, values, outputGradient, queryGradient, keyGradient, valueGradient].allSatisfy {
            $0.count >= shape.elementCount
        } && probabilities.count >= shape.probabilityCount && lengths.count >= shape.sequences, "attentionBackward: shapes outside their slices")
        let count = shape.elementCount
        for gradient in [queryGradient, keyGradient, valueGradient] { fill(gradient.prefix(count), with: 0) }
        run("attention_backward", items: shape.sequences * shape.heads * shape.length, argument(queries), argument(keys), argument(values),
            argument(lengths), argument(probabilities), argument(outputGradient), argument(queryGradient), argument(keyGradient),
            argument(valueGradient), .int64(shape.sequences), .int32(Int32(shape.length)), .int32(Int32(shape.heads)),
            .int32(Int32(shape.headDimension)))
    }

    // MARK: Dense optimizers

    public func sgdStep(values: DeviceSlice<Float>, gradients: DeviceSlice<Float>, learningRate: Float) {
        precondition(values.count == gradients.count, "sgdStep: counts differ")
        run("sgd_step", items: values.count, argument(values), argument(gradients), .float32(learningRate), .int64(values.count))
    }

    public func adagradStep(values: DeviceSlice<Float>, gradients: DeviceSlice<Float>, sums: DeviceSlice<Float>,
                            learningRate: Float, epsilon: Float) {
        precondition(values.count == gradients.count && values.count == sums.count, "adagradStep: counts differ")
        run("adagrad_step", items: values.count, argument(values), argument(gradients), argument(sums), .float32(learningRate),
            .float32(epsilon), .int64(values.count))
    }

    public func adamStep(values: DeviceSlice<Float>, gradients: DeviceSlice<Float>, first: DeviceSlice<Float>,
                         second: DeviceSlice<Float>, step: AdamStep) {
        precondition(values.count == gradients.count && values.count == first.count && values.count == second.count,
                     "adamStep: counts differ")
        run("adam_step", items: values.count, argument(values), argument(gradients), argument(first), argument(second),
            .float32(step.stepSize), .float32(step.secondCorrection), .float32(step.beta1), .float32(step.beta2), .float32(step.epsilon),
            .int64(values.count))
    }
}
