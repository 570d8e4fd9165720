/// The CPU backend with every compute operation timed into `profile` (`bench --profile`): the
/// same kernels, each call wrapped in a clock read. bf16 GEMMs also report their operands'
/// rounding into bf16 ("bf16 packing (within gemm)").
public final class ProfiledCPUBackend: CPUBackend, @unchecked Sendable {
    public let profile = OperationProfile()

    public override init(matmulPrecision: MatmulPrecision = .fp32) {
        super.init(matmulPrecision: matmulPrecision)
        bfloat16Products?.packingProfile = profile
    }

    public override func fill(_ slice: DeviceSlice<Float>, with value: Float) {
        profile.measure("fill") { super.fill(slice, with: value) }
    }

    public override func fill(_ slice: DeviceSlice<Int32>, with value: Int32) {
        profile.measure("fill") { super.fill(slice, with: value) }
    }

    public override func copy(_ source: DeviceSlice<Float>, to destination: DeviceSlice<Float>) {
        profile.measure("copy") { super.copy(source, to: destination) }
    }

    public override func copyRows(from source: DeviceSlice<Float>, sourceStride: Int, to destination: DeviceSlice<Float>,
                                  destinationStride: Int, rows: Int, columns: Int) {
        profile.measure("copyRows") { super.copyRows(from: source, sourceStride: sourceStride, to: destination,
            destinationStride: destinationStride, rows: rows, columns: columns) }
    }

    public override func add(_ x: DeviceSlice<Float>, into y: DeviceSlice<Float>) {
        profile.measure("add") { super.add(x, into: y) }
    }

    public override func multiply(_ a: DeviceSlice<Float>, _ b: DeviceSlice<Float>, into output: DeviceSlice<Float>) {
        profile.measure("multiply") { super.multiply(a, b, into: output) }
    }

    public override func multiplyAdd(_ a: DeviceSlice<Float>, _ b: DeviceSlice<Float>, plus c: DeviceSlice<Float>,
                                     into output: DeviceSlice<Float>) {
        profile.measure("multiplyAdd") { super.multiplyAdd(a, b, plus: c, into: output) }
    }

    public override func allFinite(_ x: DeviceSlice<Float>) -> Bool {
        return profile.measure("allFinite") { super.allFinite(x) }
    }

    public override func pack(_ source: DeviceSlice<Float>, as format: HalfFormat, into destination: DeviceSlice<UInt16>) {
        profile.measure("pack") { super.pack(source, as: format, into: destination) }
    }

    public override func unpack(_ source: DeviceSlice<UInt16>, from format: HalfFormat, into destination: DeviceSlice<Float>) {
        profile.measure("unpack") { super.unpack(source, from: format, into: destination) }
    }

    public override func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: DeviceSlice<Float>, lda: Int,
                              b: DeviceSlice<Float>, ldb: Int, beta: Float, c: DeviceSlice<Float>, ldc: Int) {
        profile.measure(Self.gemmName(transposeA, transposeB, m, n, k), flops: 2 * Double(m) * Double(n) * Double(k)) {
            super.gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                       beta: beta, c: c, ldc: ldc)
        }
    }

    public override func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: DeviceSlice<UInt16>,
                              lda: Int, b: DeviceSlice<UInt16>, ldb: Int, beta: Float, c: DeviceSlice<Float>, ldc: Int) {
        profile.measure(Self.gemmName(transposeA, transposeB, m, n, k), flops: 2 * Double(m) * Double(n) * Double(k)) {
            super.gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                       beta: beta, c: c, ldc: ldc)
        }
    }

    /// A GEMM's row in the profile: "gemm m x n x k" and which operands are transposed.
    private static func gemmName(_ transposeA: Bool, _ transposeB: Bool, _ m: Int, _ n: Int, _ k: Int) -> String {
        "gemm \(m)x\(n)x\(k)\(transposeA ? " Aᵀ" : "")\(transposeB ? " Bᵀ" : "")"
    }

    public override func addBias(_ y: DeviceSlice<Float>, bias: DeviceSlice<Float>, rows: Int, columns: Int, relu: Bool) {
        profile.measure("addBias") { super.addBias(y, bias: bias, rows: rows, columns: columns, relu: relu) }
    }

    public override func reluBackward(gradient: DeviceSlice<Float>, output: DeviceSlice<Float>, count: Int) {
        profile.measure("reluBackward") { super.reluBackward(gradient: gradient, output: output, count: count) }
    }

    public override func accumulateColumnSums(_ x: DeviceSlice<Float>, rows: Int, columns: Int, into sums: DeviceSlice<Float>) {
        profile.measure("accumulateColumnSums") { super.accumulateColumnSums(x, rows: rows, columns: columns, into: sums) }
    }

    public override func addBias(_ y: DeviceSlice<Float>, bias: DeviceSlice<Float>, rows: Int, columns: Int, relu: Bool,
                                 rounded: DeviceSlice<UInt16>) {
        profile.measure("addBias and pack") { super.addBias(y, bias: bias, rows: rows, columns: columns, relu: relu, rounded: rounded) }
    }

    public override func crossLayerForward(y: DeviceSlice<Float>, bias: DeviceSlice<Float>, x0: DeviceSlice<Float>,
                                           x: DeviceSlice<Float>, next: DeviceSlice<Float>, rows: Int, columns: Int,
                                           rounded: DeviceSlice<UInt16>?) {
        profile.measure("crossLayerForward") {
            super.crossLayerForward(y: y, bias: bias, x0: x0, x: x, next: next, rows: rows, columns: columns, rounded: rounded)
        }
    }

    public override func crossLayerBackward(gradient: DeviceSlice<Float>, x0: DeviceSlice<Float>, y: DeviceSlice<Float>,
                                            crossGradient: DeviceSlice<Float>, inputGradient: DeviceSlice<Float>,
                                            rounded: DeviceSlice<UInt16>?) {
        profile.measure("crossLayerBackward") {
            super.crossLayerBackward(gradient: gradient, x0: x0, y: y, crossGradient: crossGradient, inputGradient: inputGradient,
                                     rounded: rounded)
        }
    }

    public override func linearBackwardEpilogue(gradient: DeviceSlice<Float>, rows: Int, columns: Int, reluOutput: DeviceSlice<Float>?,
                                                biasGradient: DeviceSlice<Float>?, rounded: DeviceSlice<UInt16>) {
        profile.measure("linearBackwardEpilogue") {
            super.linearBackwardEpilogue(gradient: gradient, rows: rows, columns: columns, reluOutput: reluOutput,
                                         biasGradient: biasGradient, rounded: rounded)
        }
    }

    public override func softmaxRows(_ x: DeviceSlice<Float>, rows: Int, columns: Int) {
        profile.measure("softmaxRows") { super.softmaxRows(x, rows: rows, columns: columns) }
    }

    public override func softmaxRowsBackward(probabilities: DeviceSlice<Float>, gradient: DeviceSlice<Float>, rows: Int, columns: Int) {
        profile.measure("softmaxRowsBackward") { super.softmaxRowsBackward(probabilities: probabilities, gradient: gradient, rows: rows,
            columns: columns) }
    }

    public override func addScaledRows(_ x: DeviceSlice<Float>, scales: DeviceSlice<Float>, scaleStride: Int, into y: DeviceSlice<Float>,
                                       rows: Int, columns: Int) {
        profile.measure("addScaledRows") { super.addScaledRows(x, scales: scales, scaleStride: scaleStride, into: y, rows: rows,
            columns: columns) }
    }

    public override func rowDots(_ a: DeviceSlice<Float>, _ b: DeviceSlice<Float>, rows: Int, columns: Int, into dots: DeviceSlice<Float>,
                                 dotStride: Int) {
        profile.measure("rowDots") { super.rowDots(a, b, rows: rows, columns: columns, into: dots, dotStride: dotStride) }
    }

    public override func normalizeRows(_ x: DeviceSlice<Float>, into y: DeviceSlice<Float>, norms: DeviceSlice<Float>, rows: Int,
                                       columns: Int) {
        profile.measure("normalizeRows") { super.normalizeRows(x, into: y, norms: norms, rows: rows, columns: columns) }
    }

    public override func normalizeRowsBackward(output y: DeviceSlice<Float>, norms: DeviceSlice<Float>,
                                               outputGradient dy: DeviceSlice<Float>, into dx: DeviceSlice<Float>, rows: Int,
                                               columns: Int) {
        profile.measure("normalizeRowsBackward") { super.normalizeRowsBackward(output: y, norms: norms, outputGradient: dy, into: dx,
            rows: rows, columns: columns) }
    }

    public override func sampledSoftmaxCrossEntropy(_ logits: DeviceSlice<Float>, rows: Int, columns: Int, corrections: DeviceSlice<Float>,
                                                    keys: DeviceSlice<Int32>, firstTarget: Int, gradientScale: Float) -> Double {
        return profile.measure("sampledSoftmaxCrossEntropy") { super.sampledSoftmaxCrossEntropy(logits, rows: rows, columns: columns,
            corrections: corrections, keys: keys, firstTarget: firstTarget, gradientScale: gradientScale) }
    }

    public override func dotInteraction(_ shape: InteractionShape, input: DeviceSlice<Float>, output: DeviceSlice<Float>, rows: Int) {
        profile.measure("dotInteraction") { super.dotInteraction(shape, input: input, output: output, rows: rows) }
    }

    public override func dotInteractionBackward(_ shape: InteractionShape, input: DeviceSlice<Float>, outputGradient: DeviceSlice<Float>,
                                                inputGradient: DeviceSlice<Float>, rows: Int) {
        profile.measure("dotInteractionBackward") { super.dotInteractionBackward(shape, input: input, outputGradient: outputGradient,
            inputGradient: inputGradient, rows: rows) }
    }

    public override func factorizationMachine(input: DeviceSlice<Float>, rowStride: Int, fields: Int, dimension: Int, rows: Int,
                                              addingInto output: DeviceSlice<Float>) {
        profile.measure("factorizationMachine") { super.factorizationMachine(input: input, rowStride: rowStride, fields: fields,
            dimension: dimension, rows: rows, addingInto: output) }
    }

    public override func factorizationMachineBackward(input: DeviceSlice<Float>, rowStride: Int, fields: Int, dimension: Int, rows: Int,
                                                      outputGradient: DeviceSlice<Float>, addingInto inputGradient: DeviceSlice<Float>) {
        profile.measure("factorizationMachineBackward") { super.factorizationMachineBackward(input: input, rowStride: rowStride,
            fields: fields, dimension: dimension, rows: rows, outputGradient: outputGradient, addingInto: inputGradient) }
    }

    public override func binaryCrossEntropy(logits: DeviceSlice<Float>, labels: DeviceSlice<Float>, logitGradient: DeviceSlice<Float>?,
                                            count: Int, gradientScale: Float) -> Double {
        return profile.measure("binaryCrossEntropy") { super.binaryCrossEntropy(logits: logits, labels: labels,
            logitGradient: logitGradient, count: count, gradientScale: gradientScale) }
    }

    public override func squaredError(predictions: DeviceSlice<Float>, labels: DeviceSlice<Float>, gradient: DeviceSlice<Float>?,
                                      count: Int, gradientScale: Float) -> Double {
        return profile.measure("squaredError") { super.squaredError(predictions: predictions, labels: labels, gradient: gradient,
            count: count, gradientScale: gradientScale) }
    }

    public override func layerNorm(input: DeviceSlice<Float>, gamma: DeviceSlice<Float>, beta: DeviceSlice<Float>,
                                   output: DeviceSlice<Float>, means: DeviceSlice<Float>, inverseDeviations: DeviceSlice<Float>, rows: Int,
                                   width: Int, epsilon: Float) {
        profile.measure("layerNorm") { super.layerNorm(input: input, gamma: gamma, beta: beta, output: output, means: means,
            inverseDeviations: inverseDeviations, rows: rows, width: width, epsilon: epsilon) }
    }

    public override func layerNormBackward(input: DeviceSlice<Float>, gamma: DeviceSlice<Float>, means: DeviceSlice<Float>,
                                           inverseDeviations: DeviceSlice<Float>, outputGradient: DeviceSlice<Float>,
                                           inputGradient: DeviceSlice<Float>, gammaGradient: DeviceSlice<Float>,
                                           betaGradient: DeviceSlice<Float>, rows: Int, width: Int) {
        profile.measure("layerNormBackward") { super.layerNormBackward(input: input, gamma: gamma, means: means,
            inverseDeviations: inverseDeviations, outputGradient: outputGradient, inputGradient: inputGradient,
            gammaGradient: gammaGradient, betaGradient: betaGradient, rows: rows, width: width) }
    }

    public override func attention(_ shape: AttentionShape, queries: DeviceSlice<Float>, keys: DeviceSlice<Float>,
                                   values: DeviceSlice<Float>, lengths: DeviceSlice<Int32>, probabilities: DeviceSlice<Float>,
                                   output: DeviceSlice<Float>) {
        profile.measure("attention") { super.attention(shape, queries: queries, keys: keys, values: values, lengths: lengths,
            probabilities: probabilities, output: output) }
    }

    public override func attentionBackward(_ shape: AttentionShape, queries: DeviceSlice<Float>, keys: DeviceSlice<Float>,
                                           values: DeviceSlice<Float>, lengths: DeviceSlice<Int32>, probabilities: DeviceSlice<Float>,
                                           outputGradient: DeviceSlice<Float>, queryGradient: DeviceSlice<Float>,
                                           keyGradient: DeviceSlice<Float>, valueGradient: DeviceSlice<Float>) {
        profile.measure("attentionBackward") { super.attentionBackward(shape, queries: queries, keys: keys, values: values,
            lengths: lengths, probabilities: probabilities, outputGradient: outputGradient, queryGradient: queryGradient,
            keyGradient: keyGradient, valueGradient: valueGradient) }
    }

    public override func sgdStep(values: DeviceSlice<Float>, gradients: DeviceSlice<Float>, learningRate: Float) {
        profile.measure("sgdStep") { super.sgdStep(values: values, gradients: gradients, learningRate: learningRate) }
    }

    public override func adagradStep(values: DeviceSlice<Float>, gradients: DeviceSlice<Float>, sums: DeviceSlice<Float>,
                                     learningRate: Float, epsilon: Float) {
        profile.measure("adagradStep") { super.adagradStep(values: values, gradients: gradients, sums: sums, learningRate: learningRate,
            epsilon: epsilon) }
    }

    public override func adamStep(values: DeviceSlice<Float>, gradients: DeviceSlice<Float>, first: DeviceSlice<Float>,
                                  second: DeviceSlice<Float>, step: AdamStep) {
        profile.measure("adamStep") { super.adamStep(values: values, gradients: gradients, first: first, second: second, step: step) }
    }

    public override func embeddingBags(_ bags: EmbeddingBags, table: DeviceSlice<Float>, dimension: Int, output: DeviceSlice<Float>,
                                       outputStride: Int, pooling: Pooling) {
        profile.measure("embeddingBags") { super.embeddingBags(bags, table: table, dimension: dimension, output: output,
            outputStride: outputStride, pooling: pooling) }
    }

    public override func embeddingBagsAddingScalars(_ bags: EmbeddingBags, table: DeviceSlice<Float>, output: DeviceSlice<Float>) {
        profile.measure("embeddingBagsAddingScalars") { super.embeddingBagsAddingScalars(bags, table: table, output: output) }
    }

    public override func embeddingBagsScatterAdd(_ bags: EmbeddingBags, gradient: DeviceSlice<Float>, gradientStride: Int, scale: Float,
                                                 pooling: Pooling, into table: DeviceSlice<Float>, dimension: Int) {
        profile.measure("embeddingBagsScatterAdd") { super.embeddingBagsScatterAdd(bags, gradient: gradient,
            gradientStride: gradientStride, scale: scale, pooling: pooling, into: table, dimension: dimension) }
    }

    public override func accumulateBagGradients(_ bags: EmbeddingBags, gradient: DeviceSlice<Float>, gradientStride: Int, pooling: Pooling,
                                                into rowGradient: SparseRowGradient) {
        profile.measure("accumulateBagGradients") { super.accumulateBagGradients(bags, gradient: gradient, gradientStride: gradientStride,
            pooling: pooling, into: rowGradient) }
    }

    public override func gatherRows(_ tables: [ShardRows<Float>?], pairs: DeviceSlice<Int32>, count: Int, dimension: Int,
                                    into output: DeviceSlice<Float>) {
        profile.measure("gatherRows") { super.gatherRows(tables, pairs: pairs, count: count, dimension: dimension, into: output) }
    }

    public override func scatterAddRows(_ values: DeviceSlice<Float>, pairs: DeviceSlice<Int32>, count: Int, scale: Float,
                                        into tables: [ShardRows<Float>?], dimension: Int) {
        profile.measure("scatterAddRows") { super.scatterAddRows(values, pairs: pairs, count: count, scale: scale, into: tables,
            dimension: dimension) }
    }

    public override func accumulateRowGradients(_ values: DeviceSlice<Float>, pairs: DeviceSlice<Int32>, count: Int,
                                                into gradients: [SparseRowGradient?], firstRows: [Int]) {
        profile.measure("accumulateRowGradients") { super.accumulateRowGradients(values, pairs: pairs, count: count, into: gradients,
            firstRows: firstRows) }
    }

    public override func finishRowGradient(_ gradient: SparseRowGradient) {
        profile.measure("finishRowGradient") { super.finishRowGradient(gradient) }
    }

    public override func sparseSGD(_ gradient: SparseRowGradient, table: DeviceSlice<Float>, learningRate: Float) {
        profile.measure("sparseSGD") { super.sparseSGD(gradient, table: table, learningRate: learningRate) }
    }

    public override func sparseAdagrad(_ gradient: SparseRowGradient, table: DeviceSlice<Float>, rowSums: DeviceSlice<Float>,
                                       learningRate: Float, epsilon: Float) {
        profile.measure("sparseAdagrad") { super.sparseAdagrad(gradient, table: table, rowSums: rowSums, learningRate: learningRate,
            epsilon: epsilon) }
    }

    public override func sparseAdam(_ gradient: SparseRowGradient, table: DeviceSlice<Float>, first: DeviceSlice<Float>,
                                    second: DeviceSlice<Float>, step: AdamStep) {
        profile.measure("sparseAdam") { super.sparseAdam(gradient, table: table, first: first, second: second, step: step) }
    }
}
