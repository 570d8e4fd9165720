/// The reference backend: host memory, OpenBLAS GEMMs (oneDNN's bf16 matmul with
/// `matmulPrecision: .bf16`) and the SIMD kernels of `Kernels`.
///
/// Every operation resolves its slices to addresses through `address(ofHandle:)`, the one place
/// that knows where a buffer's memory is, and checks that each slice belongs to this backend.
public class CPUBackend: ComputeBackend, @unchecked Sendable {
    public let matmulPrecision: MatmulPrecision
    let bfloat16Products: BFloat16Products?

    /// bf16 products where the CPU computes them natively (`bfloat16Implementation`), fp32 otherwise.
    public init(matmulPrecision: MatmulPrecision = .fp32) {
        let bf16 = matmulPrecision == .bf16 && Self.bfloat16Implementation != nil
        self.matmulPrecision = bf16 ? .bf16 : .fp32
        bfloat16Products = bf16 ? BFloat16Products() : nil
    }

    /// oneDNN's bf16 matmul implementation on this CPU (AVX512-BF16 or AMX), or nil without one.
    public static var bfloat16Implementation: String? { OneDNNMatmul.nativeBFloat16Implementation }

    public var name: String { "cpu" }

    // MARK: Where memory is (overridden by the separate-memory backend)

    func allocateStorage(byteCount: Int) -> UInt { UInt(bitPattern: HostMemory.allocate(byteCount: byteCount)) }

    func address(ofHandle handle: UInt) -> UnsafeMutableRawPointer { UnsafeMutableRawPointer(bitPattern: handle)! }

    func freeStorage(_ handle: UInt) { HostMemory.deallocate(address(ofHandle: handle)) }

    /// The address of a slice's first element, for this backend's kernels.
    @inline(__always)
    final func pointer<Element>(_ slice: DeviceSlice<Element>) -> UnsafeMutablePointer<Element> {
        precondition(slice.buffer.backend === self, "\(name) backend: a buffer of the \(slice.buffer.backend.name) backend")
        return address(ofHandle: slice.buffer.handle).assumingMemoryBound(to: Element.self) + slice.offset
    }

    // MARK: Memory

    public func makeBuffer<Element: DeviceElement>(_ type: Element.Type, count: Int) -> DeviceBuffer<Element> {
        precondition(count >= 0, "makeBuffer: negative count")
        return DeviceBuffer(backend: self, handle: allocateStorage(byteCount: count * MemoryLayout<Element>.stride), count: count)
    }

    public func release(_ handle: UInt) { freeStorage(handle) }

    public func upload<Element: DeviceElement>(_ source: UnsafeBufferPointer<Element>, to destination: DeviceSlice<Element>) {
        precondition(source.count == destination.count, "upload: \(source.count) values into \(destination.count)")
        guard let base = source.baseAddress else { return }
        pointer(destination).update(from: base, count: source.count)
    }

    public func download<Element: DeviceElement>(_ source: DeviceSlice<Element>, into destination: UnsafeMutableBufferPointer<Element>) {
        precondition(source.count == destination.count, "download: \(source.count) values into \(destination.count)")
        guard let base = destination.baseAddress else { return }
        base.update(from: pointer(source), count: source.count)
    }

    public func hostAddress<Element: DeviceElement>(of slice: DeviceSlice<Element>) -> UnsafeMutablePointer<Element>? {
        pointer(slice)
    }

    public func synchronize() {}

    // MARK: Element-wise and copies

    public func fill(_ slice: DeviceSlice<Float>, with value: Float) { pointer(slice).update(repeating: value, count: slice.count) }

    public func fill(_ slice: DeviceSlice<Int32>, with value: Int32) { pointer(slice).update(repeating: value, count: slice.count) }

    public func copy(_ source: DeviceSlice<Float>, to destination: DeviceSlice<Float>) {
        precondition(source.count == destination.count, "copy: \(source.count) values into \(destination.count)")
        pointer(destination).update(from: pointer(source), count: source.count)
    }

    public func copyRows(from source: DeviceSlice<Float>, sourceStride: Int, to destination: DeviceSlice<Float>,
                         destinationStride: Int, rows: Int, columns: Int) {
        guard rows > 0 && columns > 0 else { return }
        precondition((rows - 1) * sourceStride + columns <= source.count
                     && (rows - 1) * destinationStride + columns <= destination.count, "copyRows: rows outside the slices")
        Kernels.copyRows(from: pointer(source), sourceStride: sourceStride, to: pointer(destination),
                         destinationStride: destinationStride, rows: rows, columns: columns)
    }

    public func add(_ x: DeviceSlice<Float>, into y: DeviceSlice<Float>) {
        precondition(x.count == y.count, "add: \(x.count) values into \(y.count)")
        Kernels.add(pointer(x), into: pointer(y), count: x.count)
    }

    public func multiply(_ a: DeviceSlice<Float>, _ b: DeviceSlice<Float>, into output: DeviceSlice<Float>) {
        precondition(a.count == b.count && a.count == output.count, "multiply: sizes differ")
        let x = pointer(a), y = pointer(b), z = pointer(output)
        for i in 0..<a.count { z[i] = x[i] * y[i] }
    }

    public func multiplyAdd(_ a: DeviceSlice<Float>, _ b: DeviceSlice<Float>, plus c: DeviceSlice<Float>,
                            into output: DeviceSlice<Float>) {
        precondition(a.count == b.count && a.count == c.count && a.count == output.count, "multiplyAdd: sizes differ")
        let x = pointer(a), y = pointer(b), w = pointer(c), z = pointer(output)
        for i in 0..<a.count { z[i] = x[i] * y[i] + w[i] }
    }

    public func allFinite(_ x: DeviceSlice<Float>) -> Bool { Kernels.allFinite(pointer(x), count: x.count) }

    public func pack(_ source: DeviceSlice<Float>, as format: HalfFormat, into destination: DeviceSlice<UInt16>) {
        precondition(source.count == destination.count, "pack: \(source.count) values into \(destination.count)")
        let (source, destination, count) = (pointer(source), pointer(destination), source.count)
        RowThreads.forEachRange(count, minimumRows: 16_384) { range in
            HalfKernels.pack(source + range.lowerBound, as: format, into: destination + range.lowerBound, count: range.count)
        }
    }

    public func unpack(_ source: DeviceSlice<UInt16>, from format: HalfFormat, into destination: DeviceSlice<Float>) {
        precondition(source.count == destination.count, "unpack: \(source.count) values into \(destination.count)")
        let (source, destination, count) = (pointer(source), pointer(destination), source.count)
        RowThreads.forEachRange(count, minimumRows: 16_384) { range in
            HalfKernels.unpack(source + range.lowerBound, from: format, into: destination + range.lowerBound, count: range.count)
        }
    }

    // MARK: Dense layers

    public func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                     a: DeviceSlice<Float>, lda: Int, b: DeviceSlice<Float>, ldb: Int,
                     beta: Float, c: DeviceSlice<Float>, ldc: Int) {
        precondition((m - 1) * ldc + n <= c.count, "gemm: C of \(m) x \(n) outside its slice")
        if let bfloat16Products {
            bfloat16Products.gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                                a: pointer(a), lda: lda, b: pointer(b), ldb: ldb, beta: beta, c: pointer(c), ldc: ldc)
            return
        }
        BLAS.gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                  a: pointer(a), lda: lda, b: pointer(b), ldb: ldb, beta: beta, c: pointer(c), ldc: ldc)
    }

    public func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                     a: DeviceSlice<UInt16>, lda: Int, b: DeviceSlice<UInt16>, ldb: Int,
                     beta: Float, c: DeviceSlice<Float>, ldc: Int) {
        guard let bfloat16Products else { preconditionFailure("gemm: bf16 operands on a backend whose products are fp32") }
        let aRows = transposeA ? k : m, aColumns = transposeA ? m : k, bRows = transposeB ? n : k, bColumns = transposeB ? k : n
        precondition((m - 1) * ldc + n <= c.count && (aRows - 1) * lda + aColumns <= a.count && (bRows - 1) * ldb + bColumns <= b.count,
                     "gemm: operands of \(m) x \(n) x \(k) outside their slices")
        bfloat16Products.gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                              roundedA: pointer(a), lda: lda, roundedB: pointer(b), ldb: ldb, beta: beta, c: pointer(c), ldc: ldc)
    }

    public func addBias(_ y: DeviceSlice<Float>, bias: DeviceSlice<Float>, rows: Int, columns: Int, relu: Bool) {
        precondition(rows * columns <= y.count && columns <= bias.count, "addBias: shapes outside the slices")
        let (y, bias) = (pointer(y), pointer(bias))
        RowThreads.forEachRange(rows, minimumRows: 16_384 / max(columns, 1)) { range in
            if relu {
                Kernels.addRowBiasReLU(y + range.lowerBound * columns, bias: bias, rows: range.count, columns: columns)
            } else {
                Kernels.addRowBias(y + range.lowerBound * columns, bias: bias, rows: range.count, columns: columns)
            }
        }
    }

    /// The product, then bias, ReLU and the rounding in one pass over `C`'s rows.
    public func linearForward(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, a: MatmulOperand, lda: Int,
                              b: MatmulOperand, ldb: Int, c: DeviceSlice<Float>, ldc: Int, bias: DeviceSlice<Float>, relu: Bool,
                              rounded: DeviceSlice<UInt16>) {
        precondition(ldc == n && m * n <= rounded.count && n <= bias.count, "linearForward: shapes outside the slices")
        gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 1, a: a, lda: lda, b: b, ldb: ldb, beta: 0,
             c: c, ldc: ldc)
        addBias(c, bias: bias, rows: m, columns: n, relu: relu, rounded: rounded)
    }

    /// `addBias`, with `y` also rounded to bf16 into `rounded` in the same pass over its rows.
    public func addBias(_ y: DeviceSlice<Float>, bias: DeviceSlice<Float>, rows: Int, columns: Int, relu: Bool,
                        rounded: DeviceSlice<UInt16>) {
        precondition(rows * columns <= y.count && rows * columns <= rounded.count && columns <= bias.count,
                     "addBias: shapes outside the slices")
        let (y, bias, packed) = (pointer(y), pointer(bias), pointer(rounded))
        RowThreads.forEachRange(rows, minimumRows: 16_384 / max(columns, 1)) { range in
            LinearEpilogueKernels.addBiasAndRound(y + range.lowerBound * columns, bias: bias, relu: relu,
                                                  rounded: packed + range.lowerBound * columns, rows: range.count, columns: columns)
        }
    }

    public func reluBackward(gradient: DeviceSlice<Float>, output: DeviceSlice<Float>, count: Int) {
        precondition(count <= gradient.count && count <= output.count, "reluBackward: count outside the slices")
        let (gradient, output) = (pointer(gradient), pointer(output))
        RowThreads.forEachRange(count, minimumRows: 16_384) { range in
            Kernels.reluBackward(gradient: gradient + range.lowerBound, output: output + range.lowerBound, count: range.count)
        }
    }

    public func accumulateColumnSums(_ x: DeviceSlice<Float>, rows: Int, columns: Int, into sums: DeviceSlice<Float>) {
        precondition(rows * columns <= x.count && columns <= sums.count, "accumulateColumnSums: shapes outside the slices")
        Kernels.accumulateColumnSums(pointer(x), rows: rows, columns: columns, into: pointer(sums))
    }

    /// One pass over the rows, split over the rank's threads.
    public func crossLayerForward(y: DeviceSlice<Float>, bias: DeviceSlice<Float>, x0: DeviceSlice<Float>, x: DeviceSlice<Float>,
                                  next: DeviceSlice<Float>, rows: Int, columns: Int, rounded: DeviceSlice<UInt16>?) {
        let count = rows * columns
        precondition(count == y.count && count == x0.count && count == x.count && count == next.count && columns <= bias.count
                     && count <= (rounded?.count ?? count), "crossLayerForward: shapes outside the slices")
        let (yp, bp, x0p, xp, nextp, packed) = (pointer(y), pointer(bias), pointer(x0), pointer(x), pointer(next), rounded.map(pointer))
        RowThreads.forEachRange(rows, minimumRows: 16_384 / max(columns, 1)) { range in
            let start = range.lowerBound * columns
            CrossLayerKernels.forward(y: yp + start, bias: bp, x0: x0p + start, x: xp + start, next: nextp + start,
                                      rounded: packed.map { $0 + start }, rows: range.count, columns: columns)
        }
    }

    /// One pass over the values, split over the rank's threads.
    public func crossLayerBackward(gradient: DeviceSlice<Float>, x0: DeviceSlice<Float>, y: DeviceSlice<Float>,
                                   crossGradient: DeviceSlice<Float>, inputGradient: DeviceSlice<Float>, rounded: DeviceSlice<UInt16>?) {
        let count = gradient.count
        precondition(count == x0.count && count == y.count && count == crossGradient.count && count == inputGradient.count
                     && count <= (rounded?.count ?? count), "crossLayerBackward: sizes differ")
        let (g, x0p, yp, gy, gx0, packed) = (pointer(gradient), pointer(x0), pointer(y), pointer(crossGradient), pointer(inputGradient),
                                             rounded.map(pointer))
        RowThreads.forEachRange(count, minimumRows: 16_384) { range in
            let start = range.lowerBound
            CrossLayerKernels.backward(gradient: g + start, x0: x0p + start, y: yp + start, crossGradient: gy + start,
                                       inputGradient: gx0 + start, rounded: packed.map { $0 + start }, count: range.count)
        }
    }

    /// The mask and the rounding in one pass over the gradient's rows (split over the rank's
    /// threads), then the bias gradient summed row by row as `accumulateColumnSums` sums it.
    public func linearBackwardEpilogue(gradient: DeviceSlice<Float>, rows: Int, columns: Int, reluOutput: DeviceSlice<Float>?,
                                       biasGradient: DeviceSlice<Float>?, rounded: DeviceSlice<UInt16>) {
        let count = rows * columns
        precondition(count <= gradient.count && count <= rounded.count && count <= (reluOutput?.count ?? count)
                     && columns <= (biasGradient?.count ?? columns), "linearBackwardEpilogue: shapes outside the slices")
        let g = pointer(gradient), packed = pointer(rounded)
        if let reluOutput {
            let y = pointer(reluOutput)
            RowThreads.forEachRange(count, minimumRows: 16_384) { range in
                LinearEpilogueKernels.maskAndRound(gradient: g + range.lowerBound, reluOutput: y + range.lowerBound,
                                                   rounded: packed + range.lowerBound, count: range.count)
            }
        }
        if let biasGradient { Kernels.accumulateColumnSums(g, rows: rows, columns: columns, into: pointer(biasGradient)) }
        if reluOutput == nil {
            RowThreads.forEachRange(count, minimumRows: 16_384) { range in
                HalfKernels.pack(g + range.lowerBound, as: .bf16, into: packed + range.lowerBound, count: range.count)
            }
        }
    }

    // MARK: Gates (a mixture of experts)

    public func softmaxRows(_ x: DeviceSlice<Float>, rows: Int, columns: Int) {
        precondition(rows * columns <= x.count, "softmaxRows: rows outside the slice")
        Kernels.softmaxRows(pointer(x), rows: rows, columns: columns)
    }

    public func softmaxRowsBackward(probabilities: DeviceSlice<Float>, gradient: DeviceSlice<Float>, rows: Int, columns: Int) {
        precondition(rows * columns <= probabilities.count && rows * columns <= gradient.count,
                     "softmaxRowsBackward: rows outside the slices")
        Kernels.softmaxRowsBackward(probabilities: pointer(probabilities), gradient: pointer(gradient), rows: rows, columns: columns)
    }

    public func addScaledRows(_ x: DeviceSlice<Float>, scales: DeviceSlice<Float>, scaleStride: Int, into y: DeviceSlice<Float>,
                              rows: Int, columns: Int) {
        guard rows > 0 else { return }
        precondition(rows * columns <= x.count && rows * columns <= y.count && (rows - 1) * scaleStride < scales.count,
                     "addScaledRows: rows outside the slices")
        Kernels.addScaledRows(pointer(x), scales: pointer(scales), scaleStride: scaleStride, into: pointer(y), rows: rows,
                              columns: columns)
    }

    public func rowDots(_ a: DeviceSlice<Float>, _ b: DeviceSlice<Float>, rows: Int, columns: Int, into dots: DeviceSlice<Float>,
                        dotStride: Int) {
        guard rows > 0 else { return }
        precondition(rows * columns <= a.count && rows * columns <= b.count && (rows - 1) * dotStride < dots.count,
                     "rowDots: rows outside the slices")
        Kernels.rowDots(pointer(a), pointer(b), rows: rows, columns: columns, into: pointer(dots), dotStride: dotStride)
    }

    // MARK: Retrieval (two towers)

    public func normalizeRows(_ x: DeviceSlice<Float>, into y: DeviceSlice<Float>, norms: DeviceSlice<Float>, rows: Int, columns: Int) {
        guard rows > 0 else { return }
        precondition(rows * columns <= x.count && rows * columns <= y.count && rows <= norms.count, "normalizeRows: rows outside the slices")
        Kernels.normalizeRows(pointer(x), into: pointer(y), norms: pointer(norms), rows: rows, columns: columns)
    }

    public func normalizeRowsBackward(output y: DeviceSlice<Float>, norms: DeviceSlice<Float>, outputGradient dy: DeviceSlice<Float>,
                                      into dx: DeviceSlice<Float>, rows: Int, columns: Int) {
        guard rows > 0 else { return }
        precondition(rows * columns <= y.count && rows * columns <= dy.count && rows * columns <= dx.count && rows <= norms.count,
                     "normalizeRowsBackward: rows outside the slices")
        Kernels.normalizeRowsBackward(output: pointer(y), norms: pointer(norms), outputGradient: pointer(dy), into: pointer(dx),
                                      rows: rows, columns: columns)
    }

    public func sampledSoftmaxCrossEntropy(_ logits: DeviceSlice<Float>, rows: Int, columns: Int, corrections: DeviceSlice<Float>,
                                           keys: DeviceSlice<Int32>, firstTarget: Int, gradientScale: Float) -> Double {
        guard rows > 0 else { return 0 }
        precondition(rows * columns <= logits.count && columns <= corrections.count && columns <= keys.count
                     && firstTarget >= 0 && firstTarget + rows <= columns, "sampledSoftmaxCrossEntropy: rows outside the slices")
        return Kernels.sampledSoftmaxCrossEntropy(pointer(logits), rows: rows, columns: columns, corrections: pointer(corrections),
                                                  keys: pointer(keys), firstTarget: firstTarget, gradientScale: gradientScale)
    }

    // MARK: Interaction and loss

    public func dotInteraction(_ shape: InteractionShape, input: DeviceSlice<Float>, output: DeviceSlice<Float>, rows: Int) {
        precondition(rows * shape.inputWidth <= input.count && rows * shape.outputWidth <= output.count,
                     "dotInteraction: batch outside the slices")
        let (input, output) = (pointer(input), pointer(output))
        RowThreads.forEachRange(rows, minimumRows: 64) { range in
            DotInteractionKernels.forward(shape, input: input + range.lowerBound * shape.inputWidth,
                                          output: output + range.lowerBound * shape.outputWidth, rows: range.count)
        }
    }

    public func dotInteractionBackward(_ shape: InteractionShape, input: DeviceSlice<Float>, outputGradient: DeviceSlice<Float>,
                                       inputGradient: DeviceSlice<Float>, rows: Int) {
        precondition(rows * shape.inputWidth <= input.count && rows * shape.inputWidth <= inputGradient.count
                     && rows * shape.outputWidth <= outputGradient.count, "dotInteractionBackward: batch outside the slices")
        let (input, outputGradient, inputGradient) = (pointer(input), pointer(outputGradient), pointer(inputGradient))
        RowThreads.forEachRange(rows, minimumRows: 64) { range in
            DotInteractionKernels.backward(shape, input: input + range.lowerBound * shape.inputWidth,
                                           outputGradient: outputGradient + range.lowerBound * shape.outputWidth,
                                           inputGradient: inputGradient + range.lowerBound * shape.inputWidth, rows: range.count)
        }
    }

    public func factorizationMachine(input: DeviceSlice<Float>, rowStride: Int, fields: Int, dimension: Int, rows: Int,
                                     addingInto output: DeviceSlice<Float>) {
        guard rows > 0 else { return }
        precondition((rows - 1) * rowStride + fields * dimension <= input.count && rows <= output.count,
                     "factorizationMachine: batch outside the slices")
        FactorizationMachineKernels.forward(input: pointer(input), rowStride: rowStride, fields: fields, dimension: dimension,
                                            rows: rows, output: pointer(output))
    }

    public func factorizationMachineBackward(input: DeviceSlice<Float>, rowStride: Int, fields: Int, dimension: Int, rows: Int,
                                             outputGradient: DeviceSlice<Float>, addingInto inputGradient: DeviceSlice<Float>) {
        guard rows > 0 else { return }
        precondition((rows - 1) * rowStride + fields * dimension <= min(input.count, inputGradient.count) && rows <= outputGradient.count,
                     "factorizationMachineBackward: batch outside the slices")
        FactorizationMachineKernels.backward(input: pointer(input), rowStride: rowStride, fields: fields, dimension: dimension,
                                             rows: rows, outputGradient: pointer(outputGradient), inputGradient: pointer(inputGradient))
    }

    public func binaryCrossEntropy(logits: DeviceSlice<Float>, labels: DeviceSlice<Float>,
                                   logitGradient: DeviceSlice<Float>?, count: Int, gradientScale: Float) -> Double {
        precondition(count <= logits.count && count <= labels.count && count <= (logitGradient?.count ?? count),
                     "binaryCrossEntropy: count outside the slices")
        return LossKernels.binaryCrossEntropy(logits: pointer(logits), labels: pointer(labels),
                                              logitGradient: logitGradient.map(pointer), count: count, gradientScale: gradientScale)
    }

    public func squaredError(predictions: DeviceSlice<Float>, labels: DeviceSlice<Float>,
                             gradient: DeviceSlice<Float>?, count: Int, gradientScale: Float) -> Double {
        precondition(count <= predictions.count && count <= labels.count && count <= (gradient?.count ?? count),
                     "squaredError: count outside the slices")
        return LossKernels.squaredError(predictions: pointer(predictions), labels: pointer(labels),
                                        gradient: gradient.map(pointer), count: count, gradientScale: gradientScale)
    }

    // MARK: Transformer

    public func layerNorm(input: DeviceSlice<Float>, gamma: DeviceSlice<Float>, beta: DeviceSlice<Float>, output: DeviceSlice<Float>,
                          means: DeviceSlice<Float>, inverseDeviations: DeviceSlice<Float>, rows: Int, width: Int, epsilon: Float) {
        guard rows > 0 else { return }
        precondition(rows * width <= min(input.count, output.count) && width <= min(gamma.count, beta.count)
                     && rows <= min(means.count, inverseDeviations.count), "layerNorm: rows outside the slices")
        TransformerKernels.layerNorm(input: pointer(input), gamma: pointer(gamma), beta: pointer(beta), output: pointer(output),
                                     means: pointer(means), inverseDeviations: pointer(inverseDeviations),
                                     rows: rows, width: width, epsilon: epsilon)
    }

    public func layerNormBackward(input: DeviceSlice<Float>, gamma: DeviceSlice<Float>, means: DeviceSlice<Float>,
                                  inverseDeviations: DeviceSlice<Float>, outputGradient: DeviceSlice<Float>,
                                  inputGradient: DeviceSlice<Float>, gammaGradient: DeviceSlice<Float>, betaGradient: DeviceSlice<Float>,
                                  rows: Int, width: Int) {
        guard rows > 0 else { return }
        precondition(rows * width <= min(input.count, outputGradient.count, inputGradient.count)
                     && width <= min(gamma.count, gammaGradient.count, betaGradient.count)
                     && rows <= min(means.count, inverseDeviations.count), "layerNormBackward: rows outside the slices")
        TransformerKernels.layerNormBackward(input: pointer(input), gamma: pointer(gamma), means: pointer(means),
                                             inverseDeviations: pointer(inverseDeviations), outputGradient: pointer(outputGradient),
                                             inputGradient: pointer(inputGradient), gammaGradient: pointer(gammaGradient),
                                             betaGradient: pointer(betaGradient), rows: rows, width: width)
    }

    public func attention(_ shape: AttentionShape, queries: DeviceSlice<Float>, keys: DeviceSlice<Float>, values: DeviceSlice<Float>,
                          lengths: DeviceSlice<Int32>, probabilities: DeviceSlice<Float>, output: DeviceSlice<Float>) {
        guard shape.sequences > 0 else { return }
        precondition(shape.elementCount <= min(queries.count, keys.count, values.count, output.count)
                     && shape.probabilityCount <= probabilities.count && shape.sequences <= lengths.count,
                     "attention: sequences outside the slices")
        TransformerKernels.attention(shape, queries: pointer(queries), keys: pointer(keys), values: pointer(values),
                                     lengths: pointer(lengths), probabilities: pointer(probabilities), output: pointer(output))
    }

    public func attentionBackward(_ shape: AttentionShape, queries: DeviceSlice<Float>, keys: DeviceSlice<Float>, values: DeviceSlice<Float>,
                                  lengths: DeviceSlice<Int32>, probabilities: DeviceSlice<Float>, outputGradient: DeviceSlice<Float>,
                                  queryGradient: DeviceSlice<Float>, keyGradient: DeviceSlice<Float>, valueGradient: DeviceSlice<Float>) {
        guard shape.sequences > 0 else { return }
        precondition(shape.elementCount <= min(queries.count, keys.count, values.count, outputGradient.count,
                                               queryGradient.count, keyGradient.count, valueGradient.count)
                     && shape.probabilityCount <= probabilities.count && shape.sequences <= lengths.count,
                     "attentionBackward: sequences outside the slices")
        TransformerKernels.attentionBackward(shape, queries: pointer(queries), keys: pointer(keys), values: pointer(values),
                                             lengths: pointer(lengths), probabilities: pointer(probabilities),
                                             outputGradient: pointer(outputGradient), queryGradient: pointer(queryGradient),
                                             keyGradient: pointer(keyGradient), valueGradient: pointer(valueGradient))
    }

    // MARK: Dense optimizers

    public func sgdStep(values: DeviceSlice<Float>, gradients: DeviceSlice<Float>, learningRate: Float) {
        precondition(values.count == gradients.count, "sgdStep: value/gradient size mismatch")
        Kernels.axpy(-learningRate, pointer(gradients), pointer(values), count: values.count)
    }

    public func adagradStep(values: DeviceSlice<Float>, gradients: DeviceSlice<Float>, sums: DeviceSlice<Float>,
                            learningRate: Float, epsilon: Float) {
        precondition(values.count == gradients.count && values.count == sums.count, "adagradStep: size mismatch")
        let p = pointer(values), g = pointer(gradients), s = pointer(sums)
        for i in 0..<values.count {
            s[i] += g[i] * g[i]
            p[i] -= learningRate * g[i] / (s[i].squareRoot() + epsilon)
        }
    }

    public func adamStep(values: DeviceSlice<Float>, gradients: DeviceSlice<Float>, first: DeviceSlice<Float>,
                         second: DeviceSlice<Float>, step: AdamStep) {
        precondition(values.count == gradients.count && values.count == first.count && values.count == second.count,
                     "adamStep: size mismatch")
        OptimizerKernels.adam(values: pointer(values), gradients: pointer(gradients), first: pointer(first),
                              second: pointer(second), count: values.count, step: step)
    }

    // MARK: Embedding bags

    /// The host addresses of a feature's bags.
    @inline(__always)
    final func hostBags(_ bags: EmbeddingBags) -> HostBags {
        precondition(bags.rows < bags.offsets.count && bags.idCount <= bags.ids.count, "embedding bags outside their slices")
        return HostBags(ids: pointer(bags.ids), offsets: pointer(bags.offsets), rows: bags.rows, idCount: bags.idCount)
    }

    public func embeddingBags(_ bags: EmbeddingBags, table: DeviceSlice<Float>, dimension: Int,
                              output: DeviceSlice<Float>, outputStride: Int, pooling: Pooling) {
        poolBags(bags, table: table, dimension: dimension, output: output, outputStride: outputStride, pooling: pooling)
    }

    public func embeddingBagsAddingScalars(_ bags: EmbeddingBags, table: DeviceSlice<Float>, output: DeviceSlice<Float>) {
        addScalarBags(bags, table: table, output: output)
    }

    /// `embeddingBags` over a table of either stored precision, the batch's rows split over the threads.
    final func poolBags<Value: StoredTableValue>(_ bags: EmbeddingBags, table: DeviceSlice<Value>, dimension: Int,
                                                 output: DeviceSlice<Float>, outputStride: Int, pooling: Pooling) {
        guard bags.rows > 0 else { return }
        precondition((bags.rows - 1) * outputStride + dimension <= output.count, "embeddingBags: output outside its slice")
        let (host, table, output) = (hostBags(bags), pointer(table), pointer(output))
        RowThreads.forEachRange(bags.rows, minimumRows: 256) { range in
            EmbeddingKernels.pool(host, rows: range, table: table, dimension: dimension, output: output,
                                  outputStride: outputStride, mean: pooling == .mean)
        }
    }

    /// `embeddingBagsAddingScalars` over a width-1 table of either stored precision.
    final func addScalarBags<Value: StoredTableValue>(_ bags: EmbeddingBags, table: DeviceSlice<Value>, output: DeviceSlice<Float>) {
        precondition(bags.rows <= output.count, "embeddingBagsAddingScalars: output outside its slice")
        EmbeddingKernels.addScalars(hostBags(bags), table: pointer(table), output: pointer(output))
    }

    public func embeddingBagsScatterAdd(_ bags: EmbeddingBags, gradient: DeviceSlice<Float>, gradientStride: Int,
                                        scale: Float, pooling: Pooling, into table: DeviceSlice<Float>, dimension: Int) {
        guard bags.rows > 0 else { return }
        precondition((bags.rows - 1) * gradientStride + dimension <= gradient.count, "embeddingBagsScatterAdd: gradient outside its slice")
        EmbeddingKernels.scatterAdd(hostBags(bags), gradient: pointer(gradient), gradientStride: gradientStride, scale: scale,
                                    mean: pooling == .mean, table: pointer(table), dimension: dimension)
    }

    public func accumulateBagGradients(_ bags: EmbeddingBags, gradient: DeviceSlice<Float>, gradientStride: Int,
                                       pooling: Pooling, into rowGradient: SparseRowGradient) {
        guard bags.rows > 0 else { return }
        precondition(rowGradient.rowCount + bags.idCount <= rowGradient.capacity, "accumulateBagGradients: begin the gradient first")
        var accumulator = rowAccumulator(rowGradient)
        let host = hostBags(bags), g = pointer(gradient), d = rowGradient.dimension
        for b in 0..<host.rows {
            let start = Int(host.offsets[b]), end = Int(host.offsets[b &+ 1])
            let source = g + b &* gradientStride
            if pooling == .mean && end > start {
                accumulator.accumulateScaled(rows: host.ids + start, count: end &- start, gradient: source,
                                             scale: 1 / Float(end &- start), dimension: d)
            } else {
                for k in start..<end { accumulator.accumulate(row: Int(host.ids[k]), gradient: source) }
            }
        }
        rowGradient.rowCount = accumulator.rowCount
    }

    final func rowAccumulator(_ gradient: SparseRowGradient) -> RowGradientAccumulator {
        RowGradientAccumulator(map: pointer(gradient.slotMap.whole), mask: gradient.slotMapMask, rowIDs: pointer(gradient.rowIDs.whole),
                               values: pointer(gradient.values.whole), dimension: gradient.dimension, rowCount: gradient.rowCount)
    }

    // MARK: Rows named by (table, row) pairs

    /// Per table, the address its global row 0 would have (row r at `+ r * dimension`).
    private func rowBases<Value: DeviceElement>(_ tables: [ShardRows<Value>?], dimension: Int) -> [UnsafeMutablePointer<Value>?] {
        tables.map { shard in shard.map { pointer($0.weights) - $0.firstRow * dimension } }
    }

    public func gatherRows(_ tables: [ShardRows<Float>?], pairs: DeviceSlice<Int32>, count: Int, dimension: Int,
                           into output: DeviceSlice<Float>) {
        gatherStoredRows(tables, pairs: pairs, count: count, dimension: dimension, into: output)
    }

    /// `gatherRows` of tables of either stored precision, the values as stored.
    final func gatherStoredRows<Value: DeviceElement>(_ tables: [ShardRows<Value>?], pairs: DeviceSlice<Int32>, count: Int, dimension: Int,
                                       into output: DeviceSlice<Value>) {
        guard count > 0 else { return }
        precondition(2 * count <= pairs.count && count * dimension <= output.count, "gatherRows: count outside the slices")
        EmbeddingKernels.gatherRows(rowBases(tables, dimension: dimension), pairs: pointer(pairs), count: count,
                                    dimension: dimension, output: pointer(output))
    }

    public func scatterAddRows(_ values: DeviceSlice<Float>, pairs: DeviceSlice<Int32>, count: Int, scale: Float,
                               into tables: [ShardRows<Float>?], dimension: Int) {
        guard count > 0 else { return }
        precondition(2 * count <= pairs.count && count * dimension <= values.count, "scatterAddRows: count outside the slices")
        EmbeddingKernels.scatterAddRows(pointer(values), pairs: pointer(pairs), count: count, scale: scale,
                                        rowBases: rowBases(tables, dimension: dimension), dimension: dimension)
    }

    public func accumulateRowGradients(_ values: DeviceSlice<Float>, pairs: DeviceSlice<Int32>, count: Int,
                                       into gradients: [SparseRowGradient?], firstRows: [Int]) {
        guard count > 0, let d = gradients.lazy.compactMap({ $0?.dimension }).first else { return }
        precondition(2 * count <= pairs.count && count * d <= values.count, "accumulateRowGradients: count outside the slices")
        precondition(gradients.allSatisfy { $0 == nil || $0!.rowCount + count <= $0!.capacity },
                     "accumulateRowGradients: begin the gradients first")
        var accumulators = gradients.map { $0.map(rowAccumulator) }
        let p = pointer(pairs), v = pointer(values)
        for j in 0..<count {
            let t = Int(p[2 &* j])
            accumulators[t]!.accumulate(row: Int(p[2 &* j &+ 1]) &- firstRows[t], gradient: v + j &* d)
        }
        for (t, gradient) in gradients.enumerated() { gradient?.rowCount = accumulators[t]!.rowCount }
    }

    public func finishRowGradient(_ gradient: SparseRowGradient) {
        // A few pairs per row held: freeing them all is one short pass.
        if gradient.rowCount > 0 { pointer(gradient.slotMap.whole).update(repeating: -1, count: gradient.slotMap.count) }
    }

    // MARK: Sparse optimizers

    public func sparseSGD(_ gradient: SparseRowGradient, table: DeviceSlice<Float>, learningRate: Float) {
        let d = gradient.dimension, w = pointer(table), ids = pointer(gradient.rowIDs.whole), g = pointer(gradient.values.whole)
        for u in 0..<gradient.rowCount {
            Kernels.axpy(-learningRate, g + u &* d, w + Int(ids[u]) &* d, count: d)
        }
    }

    public func sparseAdagrad(_ gradient: SparseRowGradient, table: DeviceSlice<Float>, rowSums: DeviceSlice<Float>,
                              learningRate: Float, epsilon: Float) {
        let d = gradient.dimension, w = pointer(table), sums = pointer(rowSums)
        let ids = pointer(gradient.rowIDs.whole), values = pointer(gradient.values.whole)
        for u in 0..<gradient.rowCount {
            let id = Int(ids[u]), g = values + u &* d
            sums[id] += Kernels.dot(g, g, count: d) / Float(d)
            let multiplier = -learningRate / (sums[id].squareRoot() + epsilon)
            Kernels.axpy(multiplier, g, w + id &* d, count: d)
        }
    }

    public func sparseAdam(_ gradient: SparseRowGradient, table: DeviceSlice<Float>, first: DeviceSlice<Float>,
                           second: DeviceSlice<Float>, step: AdamStep) {
        let d = gradient.dimension, w = pointer(table), m = pointer(first), v = pointer(second)
        let ids = pointer(gradient.rowIDs.whole), values = pointer(gradient.values.whole)
        for u in 0..<gradient.rowCount {
            let row = Int(ids[u]) &* d
            OptimizerKernels.adam(values: w + row, gradients: values + u &* d, first: m + row, second: v + row,
                                  count: d, step: step)
        }
    }
}
