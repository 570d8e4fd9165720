import Compute

/// Every `ComputeBackend` operation as a `ComparedOperation`, on shapes with uneven parts (counts
/// that are no multiple of a block, strides wider than rows, offsets into buffers, bags of 0 to
/// 3 ids) and empty ones (zero rows, empty bags).
public enum BackendOperations {
    /// The matrix products, every transpose: of fp32 operands, or with `bf16` of rounded ones
    /// (and of fp32 operands a bf16 backend rounds first).
    public static func products(bf16: Bool) -> [ComparedOperation] {
        let products = [(false, false), (true, false), (false, true), (true, true)].map { transposeA, transposeB in
            ComparedOperation("gemm\(bf16 ? " bf16" : "") \(transposeA ? "T" : "N")\(transposeB ? "T" : "N")") { inputs in
                let (m, n, k) = (37, 29, 70), lda = (transposeA ? m : k) + 3, ldb = (transposeB ? k : n) + 2, ldc = n + 5
                let a = inputs.floats((transposeA ? k : m) * lda), b = inputs.floats((transposeB ? n : k) * ldb)
                let c = inputs.floats(m * ldc)
                if bf16 {
                    let backend = inputs.backend
                    let roundedA = backend.makeBuffer(UInt16.self, count: a.count), roundedB = backend.makeBuffer(UInt16.self, count: b.count)
                    backend.pack(a.whole, as: .bf16, into: roundedA.whole)
                    backend.pack(b.whole, as: .bf16, into: roundedB.whole)
                    backend.gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 0.7, a: roundedA.whole, lda: lda,
                                 b: roundedB.whole, ldb: ldb, beta: 0.3, c: c.whole, ldc: ldc)
                    let fp32Operands = inputs.floats(m * ldc)
                    backend.gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 1, a: a.whole, lda: lda,
                                 b: b.whole, ldb: ldb, beta: 0, c: fp32Operands.whole, ldc: ldc)
                    return [("C", .floats(c.toArray())), ("C of fp32 operands", .floats(fp32Operands.toArray()))]
                }
                inputs.backend.gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 0.7, a: a.whole, lda: lda,
                                    b: b.whole, ldb: ldb, beta: 0.3, c: c.whole, ldc: ldc)
                // No rows: nothing written; no inner dimension with beta 0: zeros.
                inputs.backend.gemm(transposeA: transposeA, transposeB: transposeB, m: 0, n: n, k: k, alpha: 1, a: a.whole, lda: lda,
                                    b: b.whole, ldb: ldb, beta: 0, c: c.whole, ldc: ldc)
                let empty = inputs.floats(4 * 6)
                inputs.backend.gemm(transposeA: transposeA, transposeB: transposeB, m: 4, n: 5, k: 0, alpha: 1, a: a.whole, lda: lda,
                                    b: b.whole, ldb: ldb, beta: 0, c: empty.whole, ldc: 6)
                return [("C", .floats(c.toArray())), ("C with k = 0", .floats(empty.toArray()))]
            }
        }
        guard bf16 else { return products }
        return products + [ComparedOperation("linearForward bf16") { inputs in
            let backend = inputs.backend
            let x = inputs.floats(37 * 70), w = inputs.floats(29 * 70), bias = inputs.floats(29), y = inputs.floats(37 * 29)
            let roundedX = backend.makeBuffer(UInt16.self, count: x.count), roundedW = backend.makeBuffer(UInt16.self, count: w.count)
            backend.pack(x.whole, as: .bf16, into: roundedX.whole)
            backend.pack(w.whole, as: .bf16, into: roundedW.whole)
            backend.linearForward(transposeA: false, transposeB: true, m: 37, n: 29, k: 70, a: .bf16(roundedX.whole), lda: 70,
                                  b: .bf16(roundedW.whole), ldb: 70, c: y.whole, ldc: 29, bias: bias.whole, relu: true)
            return [("y", .floats(y.toArray()))]
        }]
    }

    /// One operation's case of a setup that runs several (a forward and its backward, an update
    /// after the gradient it applies): the results whose names start with one of `results`.
    static func part(_ name: String, of setup: @escaping @Sendable (OperationInputs) -> [(String, OperationResult)],
                     results: [String]) -> ComparedOperation {
        ComparedOperation(name) { inputs in
            let picked = setup(inputs).filter { result in results.contains { result.0.hasPrefix($0) } }
            precondition(!picked.isEmpty, "\(name): its setup has no result named \(results)")
            return picked
        }
    }

    /// Every operation but the bf16 products.
    public static let all: [ComparedOperation] = elementWise + products(bf16: false) + dense + models + embeddings
        + bfloat16Tables

    static let elementWise: [ComparedOperation] = [
        part("fill (fp32)", of: fillSetup, results: ["x"]),
        part("fill (int32)", of: fillSetup, results: ["ids"]),
        ComparedOperation("copy") { inputs in
            let a = inputs.floats(700), b = inputs.floats(700)
            inputs.backend.copy(a.slice(5, 600), to: b.slice(50, 600))
            inputs.backend.copy(a.slice(5, 0), to: b.slice(0, 0))
            return [("b", .floats(b.toArray()))]
        },
        ComparedOperation("copyRows") { inputs in
            let source = inputs.floats(37 * 20), destination = inputs.floats(37 * 30 + 3)
            inputs.backend.copyRows(from: source.whole, sourceStride: 20, to: destination.whole.suffix(from: 3), destinationStride: 30,
                                    rows: 37, columns: 17)
            inputs.backend.copyRows(from: source.slice(40, 17), sourceStride: 0, to: destination.whole, destinationStride: 30, rows: 5,
                                    columns: 17)
            inputs.backend.copyRows(from: source.whole, sourceStride: 20, to: destination.whole, destinationStride: 30, rows: 0, columns: 17)
            return [("destination", .floats(destination.toArray()))]
        },
        ComparedOperation("add") { inputs in
            let x = inputs.floats(1000), y = inputs.floats(1100)
            inputs.backend.add(x.whole, into: y.slice(100, 1000))
            return [("y", .floats(y.toArray()))]
        },
        ComparedOperation("multiply") { inputs in
            let a = inputs.floats(999), b = inputs.floats(999), output = inputs.floats(999)
            inputs.backend.multiply(a.whole, b.whole, into: output.whole)
            return [("output", .floats(output.toArray()))]
        },
        ComparedOperation("multiplyAdd") { inputs in
            let a = inputs.floats(777), b = inputs.floats(777), c = inputs.floats(777), output = inputs.floats(777)
            inputs.backend.multiplyAdd(a.whole, b.whole, plus: c.whole, into: output.whole)
            inputs.backend.multiplyAdd(a.whole, output.whole, plus: c.whole, into: c.whole)
            return [("output", .floats(output.toArray())), ("c", .floats(c.toArray()))]
        },
        ComparedOperation("allFinite") { inputs in
            let x = inputs.floats(1000)
            let before = inputs.backend.allFinite(x.whole)
            x.slice(777, 1).copy(from: [.nan])
            let nan = inputs.backend.allFinite(x.whole)
            x.slice(777, 1).copy(from: [-.infinity])
            let infinite = inputs.backend.allFinite(x.whole), empty = inputs.backend.allFinite(x.slice(0, 0))
            return [("flags", .integers([before, nan, infinite, empty].map { $0 ? 1 : 0 }))]
        },
        part("pack", of: packAndUnpack, results: ["bf16 bits", "fp16 bits"]),
        part("unpack", of: packAndUnpack, results: ["bf16 values", "fp16 values", "bf16 every", "fp16 every"]),
    ]

    static let dense: [ComparedOperation] = [
        ComparedOperation("linearForward") { inputs in
            // y (37, 29) = act(x (37, 70) Wᵀ + b), W (29, 70): the product with its bias epilogue.
            let x = inputs.floats(37 * 70), w = inputs.floats(29 * 70), bias = inputs.floats(29)
            let y = inputs.floats(37 * 29), z = inputs.floats(37 * 29), empty = inputs.floats(4 * 29)
            inputs.backend.linearForward(transposeA: false, transposeB: true, m: 37, n: 29, k: 70, a: .fp32(x.whole), lda: 70,
                                         b: .fp32(w.whole), ldb: 70, c: y.whole, ldc: 29, bias: bias.whole, relu: false)
            inputs.backend.linearForward(transposeA: false, transposeB: true, m: 37, n: 29, k: 70, a: .fp32(x.whole), lda: 70,
                                         b: .fp32(w.whole), ldb: 70, c: z.whole, ldc: 29, bias: bias.whole, relu: true)
            inputs.backend.linearForward(transposeA: false, transposeB: true, m: 4, n: 29, k: 0, a: .fp32(x.whole), lda: 70,
                                         b: .fp32(w.whole), ldb: 70, c: empty.whole, ldc: 29, bias: bias.whole, relu: true)
            return [("y", .floats(y.toArray())), ("relu", .floats(z.toArray())), ("k = 0", .floats(empty.toArray()))]
        },
        ComparedOperation("addBias") { inputs in
            let y = inputs.floats(37 * 29), z = inputs.floats(37 * 29), bias = inputs.floats(29)
            inputs.backend.addBias(y.whole, bias: bias.whole, rows: 37, columns: 29, relu: false)
            inputs.backend.addBias(z.whole, bias: bias.whole, rows: 37, columns: 29, relu: true)
            inputs.backend.addBias(z.whole, bias: bias.whole, rows: 0, columns: 29, relu: true)
            return [("y", .floats(y.toArray())), ("relu", .floats(z.toArray()))]
        },
        ComparedOperation("reluBackward") { inputs in
            let gradient = inputs.floats(1000), output = inputs.floats(1000)
            inputs.backend.reluBackward(gradient: gradient.whole, output: output.whole, count: 990)
            return [("gradient", .floats(gradient.toArray()))]
        },
        ComparedOperation("accumulateColumnSums") { inputs in
            let x = inputs.floats(301 * 29), sums = inputs.floats(29)
            inputs.backend.accumulateColumnSums(x.whole, rows: 301, columns: 29, into: sums.whole)
            inputs.backend.accumulateColumnSums(x.whole, rows: 0, columns: 29, into: sums.whole)
            return [("sums", .floats(sums.toArray()))]
        },
    ]

    static let models: [ComparedOperation] = [
        part("softmaxRows", of: softmax, results: ["probabilities"]),
        part("softmaxRowsBackward", of: softmax, results: ["gradient"]),
        ComparedOperation("addScaledRows") { inputs in
            let x = inputs.floats(37 * 29), scales = inputs.floats(37 * 3), y = inputs.floats(37 * 29)
            inputs.backend.addScaledRows(x.whole, scales: scales.whole.suffix(from: 1), scaleStride: 3, into: y.whole, rows: 37, columns: 29)
            return [("y", .floats(y.toArray()))]
        },
        ComparedOperation("rowDots") { inputs in
            let a = inputs.floats(37 * 70), b = inputs.floats(37 * 70), dots = inputs.floats(37 * 3)
            inputs.backend.rowDots(a.whole, b.whole, rows: 37, columns: 70, into: dots.whole.suffix(from: 2), dotStride: 3)
            return [("dots", .floats(dots.toArray()))]
        },
        part("normalizeRows", of: normalization, results: ["y", "norms"]),
        part("normalizeRowsBackward", of: normalization, results: ["dx"]),
        ComparedOperation("sampledSoftmaxCrossEntropy") { inputs in
            let (rows, columns) = (5, 300)
            let logits = inputs.floats(rows * columns, in: -5...5), corrections = inputs.floats(columns, in: 0...2)
            let keys = inputs.integers((0..<columns).map { Int32($0 % 97) })
            let loss = inputs.backend.sampledSoftmaxCrossEntropy(logits.whole, rows: rows, columns: columns, corrections: corrections.whole,
                                                                 keys: keys.whole, firstTarget: 2, gradientScale: 0.25)
            return [("loss", .number(loss)), ("gradient", .floats(logits.toArray()))]
        },
        part("dotInteraction", of: interaction, results: ["output"]),
        part("dotInteractionBackward", of: interaction, results: ["input gradient"]),
        part("factorizationMachine", of: factorization, results: ["output"]),
        part("factorizationMachineBackward", of: factorization, results: ["input gradient"]),
        ComparedOperation("binaryCrossEntropy") { inputs in
            let logits = inputs.floats(1000, in: -30...30), labels = inputs.floats((0..<1000).map { Float($0 % 3 == 0 ? 1 : 0) })
            let gradient = inputs.floats(1000)
            let loss = inputs.backend.binaryCrossEntropy(logits: logits.whole, labels: labels.whole, logitGradient: gradient.whole,
                                                         count: 999, gradientScale: 1.0 / 999)
            let lossOnly = inputs.backend.binaryCrossEntropy(logits: logits.whole, labels: labels.whole, logitGradient: nil, count: 1000,
                                                             gradientScale: 1)
            return [("loss", .number(loss)), ("loss without gradient", .number(lossOnly)), ("gradient", .floats(gradient.toArray()))]
        },
        ComparedOperation("squaredError") { inputs in
            let predictions = inputs.floats(1000, in: 0...5), labels = inputs.floats(1000, in: 0...5), gradient = inputs.floats(1000)
            let loss = inputs.backend.squaredError(predictions: predictions.whole, labels: labels.whole, gradient: gradient.whole,
                                                   count: 999, gradientScale: 0.5)
            let lossOnly = inputs.backend.squaredError(predictions: predictions.whole, labels: labels.whole, gradient: nil, count: 1000,
                                                       gradientScale: 1)
            return [("loss", .number(loss)), ("loss without gradient", .number(lossOnly)), ("gradient", .floats(gradient.toArray()))]
        },
        part("layerNorm", of: layerNormalization, results: ["output", "means", "inverse"]),
        part("layerNormBackward", of: layerNormalization, results: ["dx", "dgamma", "dbeta"]),
        part("attention", of: selfAttention, results: ["output", "probabilities"]),
        part("attentionBackward", of: selfAttention, results: ["dq", "dk", "dv"]),
        part("sgdStep", of: denseUpdates, results: ["sgd"]),
        part("adagradStep", of: denseUpdates, results: ["adagrad"]),
        part("adamStep", of: denseUpdates, results: ["adam"]),
    ]

    /// A sparse gradient's rows sorted by id (the device fills entries in no particular order).
    static func sortedRows(_ gradient: SparseRowGradient, _ name: String) -> [(String, OperationResult)] {
        let rows = gradient.rows().sorted { $0.id < $1.id }
        return [("\(name) rows", .integers(rows.map { Int32($0.id) })), ("\(name) gradients", .floats(rows.flatMap(\.gradient))),
                ("\(name) slots after finish", .integers(gradient.slotMap.toArray()))]
    }

    static let embeddings: [ComparedOperation] = [
        part("embeddingBags", of: pooling, results: ["sum", "mean"]),
        part("embeddingBagsAddingScalars", of: pooling, results: ["scalars"]),
        ComparedOperation("embeddingBagsScatterAdd") { inputs in
            let table = inputs.floats(50 * 7), bags = inputs.bags(rows: 301, tableRows: 50), gradient = inputs.floats(301 * 9)
            inputs.backend.embeddingBagsScatterAdd(bags, gradient: gradient.whole, gradientStride: 9, scale: -0.1, pooling: .sum,
                                                   into: table.whole, dimension: 7)
            inputs.backend.embeddingBagsScatterAdd(bags, gradient: gradient.whole, gradientStride: 9, scale: 0.3, pooling: .mean,
                                                   into: table.whole, dimension: 7)
            return [("table", .floats(table.toArray()))]
        },
        part("accumulateBagGradients", of: bagGradients, results: ["sum rows", "sum gradients", "mean rows", "mean gradients"]),
        part("finishRowGradient (bags)", of: bagGradients, results: ["sum slots", "mean slots"]),
        part("sparseSGD", of: bagGradients, results: ["sgd"]),
        part("sparseAdagrad", of: bagGradients, results: ["adagrad"]),
        part("sparseAdam", of: bagGradients, results: ["adam"]),
        part("gatherRows", of: pairRows, results: ["gathered"]),
        part("scatterAddRows", of: pairRows, results: ["first table", "third table"]),
        part("accumulateRowGradients", of: pairRows, results: ["first rows", "first gradients", "third rows", "third gradients"]),
        part("finishRowGradient (pairs)", of: pairRows, results: ["first slots", "third slots"]),
    ]

    /// Tables stored in bf16: lookups (fp32 sums, within rounding) and gathers (the stored bits),
    /// and the sparse updates with fp32 and bf16 state, compared bit for bit: every backend draws
    /// the same stochastic rounding of the same fp32 values.
    static let bfloat16Tables: [ComparedOperation] = [
        part("embeddingBags (bf16 table)", of: bfloat16Pooling, results: ["sum", "mean"]),
        part("embeddingBagsAddingScalars (bf16 table)", of: bfloat16Pooling, results: ["scalars"]),
        ComparedOperation("gatherRows (bf16 tables)") { inputs in
            let d = 5, first = inputs.bfloat16(30 * d), third = inputs.bfloat16(25 * d)
            let tables = [ShardRows(weights: first.whole, firstRow: 10), nil, ShardRows(weights: third.whole, firstRow: 0)]
            let pairs = (0..<101).flatMap { j -> [Int32] in j % 3 == 1 ? [2, inputs.integer(in: 0...24)] : [0, inputs.integer(in: 10...39)] }
            let gathered = inputs.backend.makeBuffer(UInt16.self, count: 101 * d)
            inputs.backend.gatherRows(tables, pairs: inputs.integers(pairs).whole, count: 101, dimension: d, into: gathered.whole)
            return [("gathered", .integers(gathered.toArray().map { Int32($0) }))]
        },
        part("sparseSGD (bf16 table)", of: bfloat16Updates, results: ["sgd"]),
        part("sparseAdagrad (bf16 table)", of: bfloat16Updates, results: ["adagrad"]),
        part("sparseAdam (bf16 table)", of: bfloat16Updates, results: ["adam"]),
    ]

    // MARK: Setups that run several operations (each compared in its own case above)

    static let bfloat16Pooling: @Sendable (OperationInputs) -> [(String, OperationResult)] = { inputs in
        let table = inputs.bfloat16(50 * 7), bags = inputs.bags(rows: 301, tableRows: 50)
        return pooled(inputs, bags: bags) {
            inputs.backend.embeddingBags(bags, table: table.whole, dimension: 7, output: $0, outputStride: $1, pooling: $2)
        } scalars: { inputs.backend.embeddingBagsAddingScalars(bags, table: table.slice(0, 50), output: $0) }
    }

    /// A gradient of 17 distinct rows (given, not accumulated: the device sums contributions in
    /// no particular order) applied by each optimizer to a bf16 table of 50 rows, global rows
    /// from 100 on; Adagrad and Adam once with fp32 state and once with bf16 state.
    static let bfloat16Updates: @Sendable (OperationInputs) -> [(String, OperationResult)] = { inputs in
        let backend = inputs.backend, d = 7, rows: [Int32] = (0..<17).map { Int32($0 * 7 % 50) }
        let gradient = SparseRowGradient(backend: backend, dimension: d, capacity: rows.count)
        gradient.begin(contributions: rows.count)
        gradient.rowIDs.slice(0, rows.count).copy(from: rows)
        backend.copy(inputs.floats(rows.count * d).whole, to: gradient.values.slice(0, rows.count * d))
        gradient.rowCount = rows.count
        let rounding = StochasticRounding(seed: 0x5EED_B0F1_6000, firstRow: 100)
        let step = AdamStep(learningRate: 0.01, step: 3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8)
        func bits(_ buffer: DeviceBuffer<UInt16>) -> OperationResult { .integers(buffer.toArray().map { Int32($0) }) }
        func state(_ values: StoredValues) -> OperationResult {
            switch values {
            case .fp32(let values): .floats(values.toArray())
            case .bf16(let values): bits(values)
            }
        }
        let sgd = inputs.bfloat16(50 * d)
        backend.sparseSGD(gradient, table: sgd.whole, learningRate: 0.1, rounding: rounding)
        var results: [(String, OperationResult)] = [("sgd table", bits(sgd))]
        for precision in TablePrecision.allCases {
            let adagrad = inputs.bfloat16(50 * d), adam = inputs.bfloat16(50 * d)
            let sums = inputs.stored(50, in: 0...1, precision), first = inputs.stored(50 * d, in: -1...1, precision)
            let second = inputs.stored(50 * d, in: 0...1, precision)
            backend.sparseAdagrad(gradient, table: adagrad.whole, rowSums: sums, learningRate: 0.05, epsilon: 1e-8, rounding: rounding)
            backend.sparseAdam(gradient, table: adam.whole, first: first, second: second, step: step, rounding: rounding)
            results += [("adagrad table, \(precision) sums", bits(adagrad)), ("adagrad sums, \(precision)", state(sums)),
                        ("adam table, \(precision) moments", bits(adam)), ("adam first, \(precision)", state(first)),
                        ("adam second, \(precision)", state(second))]
        }
        gradient.finish()
        return results
    }


    static let fillSetup: @Sendable (OperationInputs) -> [(String, OperationResult)] = { inputs in
        let x = inputs.floats(1000), ids = inputs.integers((0..<300).map { Int32($0) })
        inputs.backend.fill(x.slice(3, 517), with: 2.5)
        inputs.backend.fill(x.slice(0, 0), with: 1)
        inputs.backend.fill(ids.slice(7, 280), with: -1)
        return [("x", .floats(x.toArray())), ("ids", .integers(ids.toArray()))]
    }

    static let packAndUnpack: @Sendable (OperationInputs) -> [(String, OperationResult)] = { inputs in
        let special: [Float] = [0, -0, 1e-8, -3e-5, 65504, 65520, 1e6, -1e30, .infinity, -.infinity, 1.00390625, 1.0039063, 3.14159]
        let x = inputs.floats(1000, in: -300...300)
        x.slice(0, special.count).copy(from: special)
        var results: [(String, OperationResult)] = []
        for format in HalfFormat.allCases {
            let bits = inputs.backend.makeBuffer(UInt16.self, count: 1000), back = inputs.backend.makeFloats(1000)
            inputs.backend.pack(x.whole, as: format, into: bits.whole)
            inputs.backend.unpack(bits.whole, from: format, into: back.whole)
            results.append(("\(format) bits", .integers(bits.toArray().map { Int32($0) })))
            results.append(("\(format) values", .floats(back.toArray())))
            // Every 16-bit pattern but NaNs back to fp32.
            let patterns = inputs.backend.makeBuffer(UInt16.self, count: 65536), values = inputs.backend.makeFloats(65536)
            patterns.copy(from: (0...65535).map { UInt16($0) })
            inputs.backend.unpack(patterns.whole, from: format, into: values.whole)
            results.append(("\(format) every pattern", .floats(values.toArray())))
        }
        return results
    }

    static let softmax: @Sendable (OperationInputs) -> [(String, OperationResult)] = { inputs in
        let x = inputs.floats(301 * 5, in: -8...8), gradient = inputs.floats(301 * 5)
        inputs.backend.softmaxRows(x.whole, rows: 301, columns: 5)
        inputs.backend.softmaxRowsBackward(probabilities: x.whole, gradient: gradient.whole, rows: 301, columns: 5)
        return [("probabilities", .floats(x.toArray())), ("gradient", .floats(gradient.toArray()))]
    }

    static let normalization: @Sendable (OperationInputs) -> [(String, OperationResult)] = { inputs in
        let x = inputs.floats(37 * 70), y = inputs.floats(37 * 70), norms = inputs.floats(37), dy = inputs.floats(37 * 70)
        let dx = inputs.floats(37 * 70)
        x.slice(70, 70).copy(from: [Float](repeating: 0, count: 70))
        inputs.backend.normalizeRows(x.whole, into: y.whole, norms: norms.whole, rows: 37, columns: 70)
        inputs.backend.normalizeRowsBackward(output: y.whole, norms: norms.whole, outputGradient: dy.whole, into: dx.whole, rows: 37,
                                             columns: 70)
        return [("y", .floats(y.toArray())), ("norms", .floats(norms.toArray())), ("dx", .floats(dx.toArray()))]
    }

    static let interaction: @Sendable (OperationInputs) -> [(String, OperationResult)] = { inputs in
        var results: [(String, OperationResult)] = []
        for passes in [true, false] {
            let shape = InteractionShape(featureCount: 9, dimension: 7, passesFirstSlot: passes), rows = 37
            let input = inputs.floats(rows * shape.inputWidth), output = inputs.floats(rows * shape.outputWidth)
            let outputGradient = inputs.floats(rows * shape.outputWidth), inputGradient = inputs.floats(rows * shape.inputWidth)
            inputs.backend.dotInteraction(shape, input: input.whole, output: output.whole, rows: rows)
            inputs.backend.dotInteractionBackward(shape, input: input.whole, outputGradient: outputGradient.whole,
                                                  inputGradient: inputGradient.whole, rows: rows)
            results += [("output \(passes)", .floats(output.toArray())), ("input gradient \(passes)", .floats(inputGradient.toArray()))]
        }
        return results
    }

    static let factorization: @Sendable (OperationInputs) -> [(String, OperationResult)] = { inputs in
        let (rows, stride, fields, dimension) = (37, 50, 6, 7)
        let input = inputs.floats(rows * stride), output = inputs.floats(rows), outputGradient = inputs.floats(rows)
        let inputGradient = inputs.floats(rows * stride)
        inputs.backend.factorizationMachine(input: input.whole, rowStride: stride, fields: fields, dimension: dimension, rows: rows,
                                            addingInto: output.whole)
        inputs.backend.factorizationMachineBackward(input: input.whole, rowStride: stride, fields: fields, dimension: dimension,
                                                    rows: rows, outputGradient: outputGradient.whole, addingInto: inputGradient.whole)
        return [("output", .floats(output.toArray())), ("input gradient", .floats(inputGradient.toArray()))]
    }

    static let layerNormalization: @Sendable (OperationInputs) -> [(String, OperationResult)] = { inputs in
        let (rows, width) = (13, 48)
        let input = inputs.floats(rows * width, in: -3...3), gamma = inputs.floats(width), beta = inputs.floats(width)
        let output = inputs.floats(rows * width), means = inputs.floats(rows), inverse = inputs.floats(rows)
        let dy = inputs.floats(rows * width), dx = inputs.floats(rows * width), dGamma = inputs.floats(width), dBeta = inputs.floats(width)
        inputs.backend.layerNorm(input: input.whole, gamma: gamma.whole, beta: beta.whole, output: output.whole, means: means.whole,
                                 inverseDeviations: inverse.whole, rows: rows, width: width, epsilon: 1e-5)
        inputs.backend.layerNormBackward(input: input.whole, gamma: gamma.whole, means: means.whole, inverseDeviations: inverse.whole,
                                         outputGradient: dy.whole, inputGradient: dx.whole, gammaGradient: dGamma.whole,
                                         betaGradient: dBeta.whole, rows: rows, width: width)
        return [("output", .floats(output.toArray())), ("means", .floats(means.toArray())), ("inverse", .floats(inverse.toArray())),
                ("dx", .floats(dx.toArray())), ("dgamma", .floats(dGamma.toArray())), ("dbeta", .floats(dBeta.toArray()))]
    }

    static let selfAttention: @Sendable (OperationInputs) -> [(String, OperationResult)] = { inputs in
        let shape = AttentionShape(sequences: 3, length: 5, heads: 2, headDimension: 4)
        let q = inputs.floats(shape.elementCount), k = inputs.floats(shape.elementCount), v = inputs.floats(shape.elementCount)
        let lengths = inputs.integers([5, 2, 0]), p = inputs.floats(shape.probabilityCount), output = inputs.floats(shape.elementCount)
        let dOutput = inputs.floats(shape.elementCount), dq = inputs.floats(shape.elementCount)
        let dk = inputs.floats(shape.elementCount), dv = inputs.floats(shape.elementCount)
        inputs.backend.attention(shape, queries: q.whole, keys: k.whole, values: v.whole, lengths: lengths.whole,
                                 probabilities: p.whole, output: output.whole)
        inputs.backend.attentionBackward(shape, queries: q.whole, keys: k.whole, values: v.whole, lengths: lengths.whole,
                                         probabilities: p.whole, outputGradient: dOutput.whole, queryGradient: dq.whole,
                                         keyGradient: dk.whole, valueGradient: dv.whole)
        return [("output", .floats(output.toArray())), ("probabilities", .floats(p.toArray())), ("dq", .floats(dq.toArray())),
                ("dk", .floats(dk.toArray())), ("dv", .floats(dv.toArray()))]
    }

    static let denseUpdates: @Sendable (OperationInputs) -> [(String, OperationResult)] = { inputs in
        let p = inputs.floats(1000), g = inputs.floats(1000), sums = inputs.floats(1000, in: 0...1)
        let first = inputs.floats(1000), second = inputs.floats(1000, in: 0...1)
        inputs.backend.sgdStep(values: p.slice(0, 300), gradients: g.slice(0, 300), learningRate: 0.1)
        inputs.backend.adagradStep(values: p.slice(300, 300), gradients: g.slice(300, 300), sums: sums.slice(300, 300),
                                   learningRate: 0.05, epsilon: 1e-8)
        inputs.backend.adamStep(values: p.slice(600, 400), gradients: g.slice(600, 400), first: first.slice(600, 400),
                                second: second.slice(600, 400), step: AdamStep(learningRate: 0.01, step: 3, beta1: 0.9, beta2: 0.999,
                                                                               epsilon: 1e-8))
        return [("sgd values", .floats(p.slice(0, 300).toArray())), ("adagrad values", .floats(p.slice(300, 300).toArray())),
                ("adagrad sums", .floats(sums.slice(300, 300).toArray())), ("adam values", .floats(p.slice(600, 400).toArray())),
                ("adam first", .floats(first.slice(600, 400).toArray())), ("adam second", .floats(second.slice(600, 400).toArray()))]
    }

    static let pooling: @Sendable (OperationInputs) -> [(String, OperationResult)] = { inputs in
        let table = inputs.floats(50 * 7), bags = inputs.bags(rows: 301, tableRows: 50)
        return pooled(inputs, bags: bags) {
            inputs.backend.embeddingBags(bags, table: table.whole, dimension: 7, output: $0, outputStride: $1, pooling: $2)
        } scalars: { inputs.backend.embeddingBagsAddingScalars(bags, table: table.slice(0, 50), output: $0) }
    }

    /// The sums (stride 10, from element 2) and means of `bags` by `pool(output, stride, pooling)`,
    /// and a width-1 table's scalars added by `scalars`.
    static func pooled(_ inputs: OperationInputs, bags: EmbeddingBags, _ pool: (DeviceSlice<Float>, Int, Pooling) -> Void,
                       scalars add: (DeviceSlice<Float>) -> Void) -> [(String, OperationResult)] {
        let sum = inputs.floats(bags.rows * 10), mean = inputs.floats(bags.rows * 7), scalars = inputs.floats(bags.rows)
        pool(sum.whole.suffix(from: 2), 10, .sum)
        pool(mean.whole, 7, .mean)
        add(scalars.whole)
        return [("sum", .floats(sum.toArray())), ("mean", .floats(mean.toArray())), ("scalars", .floats(scalars.toArray()))]
    }

    static let bagGradients: @Sendable (OperationInputs) -> [(String, OperationResult)] = { inputs in
        let backend = inputs.backend, d = 7
        // One table per optimizer, each updated by the same gradients.
        let sgdTable = inputs.floats(50 * d), adagradTable = inputs.floats(50 * d), adamTable = inputs.floats(50 * d)
        let sums = inputs.floats(50, in: 0...1), first = inputs.floats(50 * d), second = inputs.floats(50 * d, in: 0...1)
        var results: [(String, OperationResult)] = []
        for (name, pooling) in [("sum", Pooling.sum), ("mean", .mean)] {
            let gradient = SparseRowGradient(backend: backend, dimension: d, capacity: 4)
            let bags = inputs.bags(rows: 301, tableRows: 50), more = inputs.bags(rows: 7, tableRows: 50)
            let outputGradient = inputs.floats(301 * 9)
            gradient.begin(contributions: bags.idCount + more.idCount)
            backend.accumulateBagGradients(bags, gradient: outputGradient.whole, gradientStride: 9, pooling: pooling, into: gradient)
            backend.accumulateBagGradients(more, gradient: outputGradient.whole, gradientStride: 9, pooling: pooling, into: gradient)
            backend.sparseSGD(gradient, table: sgdTable.whole, learningRate: 0.1)
            backend.sparseAdagrad(gradient, table: adagradTable.whole, rowSums: sums.whole, learningRate: 0.05, epsilon: 1e-8)
            backend.sparseAdam(gradient, table: adamTable.whole, first: first.whole, second: second.whole,
                               step: AdamStep(learningRate: 0.01, step: 2, beta1: 0.9, beta2: 0.999, epsilon: 1e-8))
            backend.finishRowGradient(gradient)
            results += sortedRows(gradient, name)
        }
        return results + [("sgd table", .floats(sgdTable.toArray())), ("adagrad table", .floats(adagradTable.toArray())),
                          ("adagrad sums", .floats(sums.toArray())), ("adam table", .floats(adamTable.toArray())),
                          ("adam first", .floats(first.toArray())), ("adam second", .floats(second.toArray()))]
    }

    static let pairRows: @Sendable (OperationInputs) -> [(String, OperationResult)] = { inputs in
        let backend = inputs.backend, d = 5
        // Three tables: rows 0 ..< 40 held from row 10, none held, rows 0 ..< 25 held from 0.
        let first = inputs.floats(30 * d), third = inputs.floats(25 * d)
        let tables = [ShardRows(weights: first.whole, firstRow: 10), nil, ShardRows(weights: third.whole, firstRow: 0)]
        var pairs: [Int32] = []
        for j in 0..<203 {
            let t: Int32 = j % 3 == 1 ? 2 : 0
            pairs += [t, t == 0 ? inputs.integer(in: 10...39) : inputs.integer(in: 0...24)]
        }
        let pairBuffer = inputs.integers(pairs), count = 203
        let gathered = inputs.floats(count * d), values = inputs.floats(count * d)
        backend.gatherRows(tables, pairs: pairBuffer.whole, count: count, dimension: d, into: gathered.whole)
        backend.scatterAddRows(values.whole, pairs: pairBuffer.whole, count: count, scale: -0.5, into: tables, dimension: d)
        backend.gatherRows(tables, pairs: pairBuffer.whole, count: 0, dimension: d, into: gathered.whole)
        let gradients = [SparseRowGradient(backend: backend, dimension: d, capacity: count), nil,
                         SparseRowGradient(backend: backend, dimension: d, capacity: count)]
        gradients.forEach { $0?.begin(contributions: count) }
        backend.accumulateRowGradients(values.whole, pairs: pairBuffer.whole, count: count, into: gradients, firstRows: [10, 0, 0])
        let results = [("gathered", OperationResult.floats(gathered.toArray())), ("first table", .floats(first.toArray())),
                       ("third table", .floats(third.toArray()))]
        gradients.forEach { $0?.finish() }
        return results + sortedRows(gradients[0]!, "first") + sortedRows(gradients[2]!, "third")
    }
}
